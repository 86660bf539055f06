// The kernel programs (bpf/kashim.bpf.c through its libbpf skeleton): loaded with their
// settings, attached to a cgroup through BPF links, optionally pinned to outlive us.
#pragma once

#include <string>
#include <vector>

#include "bpf/settings.h"

struct kashim_bpf;

namespace kashim::cgroup {

// Refusal naming what is missing when the kernel cannot run the programs (sock_ops,
// cgroup/setsockopt, socket storage for both) or the caller may not load them. Probes the
// features, never the version string.
void probe_kernel();

// libbpf's own messages (the verifier's log on a refusal) go to stderr when `verbose`.
void show_libbpf_messages(bool verbose);

class Programs {
 public:
  // Loads both programs and writes `settings` into their map; Refusal on failure.
  explicit Programs(const kashim_settings& settings);
  ~Programs();
  Programs(const Programs&) = delete;
  Programs& operator=(const Programs&) = delete;

  // Attaches both programs to the cgroup (`cgroup_fd`, an open directory) through links this
  // object holds: closing them (the destructor, or the process's exit) detaches them.
  void attach(int cgroup_fd, const std::string& cgroup_path);
  // Pins both links and the settings and counters maps in `directory` (on bpffs), under
  // the names below, so that the attachment outlives this process. Each path pinned is
  // added to `pinned` as it is made, so that a failure part way can undo exactly those.
  void pin(const std::string& directory, std::vector<std::string>* pinned);

  int counters_fd() const;

 private:
  kashim_bpf* skeleton_ = nullptr;
};

inline constexpr const char* kPinSockopsLink = "sockops_link";
inline constexpr const char* kPinSetsockoptLink = "setsockopt_link";
inline constexpr const char* kPinSettings = "settings";
inline constexpr const char* kPinCounters = "counters";
inline constexpr const char* kPinNames[] = {kPinSockopsLink, kPinSetsockoptLink, kPinSettings,
                                            kPinCounters};

}  // namespace kashim::cgroup
