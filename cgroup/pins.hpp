// Where persistent attachments live: /sys/fs/bpf/kashim/<cgroup id>/, one pinned object per
// link and map (programs.hpp names them). bpffs is mounted at /sys/fs/bpf when it is not.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/settings.h"

namespace kashim::cgroup {

inline constexpr const char* kBpffs = "/sys/fs/bpf";
inline constexpr const char* kPinRoot = "/sys/fs/bpf/kashim";

// Mounts bpffs at /sys/fs/bpf unless it is there already; Refusal when it cannot. Two
// callers at once mount it once (they take turns on the directory /sys/fs/bpf).
void ensure_bpffs();

// attach and detach take turns: an exclusive flock(2) on kPinRoot, held from before they
// look at a cgroup's pins until after they are done with them, for every cgroup at once. On
// bpffs itself, so that every process that sees the same pins (another mount namespace,
// a container given /sys/fs/bpf) takes the same lock. kPinRoot is created for the lock and
// removed on release when empty; a waiter that finds it was removed meanwhile locks the new
// one.
class PinLock {
 public:
  // `create`: make kPinRoot when missing (attach). Otherwise nothing is held when it is
  // missing (detach: nothing is attached) and held() is false.
  explicit PinLock(bool create);
  ~PinLock();
  PinLock(const PinLock&) = delete;
  PinLock& operator=(const PinLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

std::string pin_directory(std::uint64_t cgroup_id);

// The cgroup ids with a directory under kPinRoot, in increasing order.
std::vector<std::uint64_t> pinned_cgroup_ids();

// Detaches the pinned links (even when another process holds them open), removes every pin
// and the directory (kPinRoot is PinLock's). Returns false when there was nothing to
// remove. Call with a PinLock held.
bool remove_pins(std::uint64_t cgroup_id);

// Both pinned links are still attached to the cgroup (bpf_link_info). False when one was
// detached by something else than kashim (`bpftool link detach`, a cleanup tool: the pin
// stays, its cgroup id reads 0), or when its cgroup was removed.
bool pinned_links_attached(std::uint64_t cgroup_id);
// Both links are pinned (attached or not): false after an attach stopped midway.
bool both_links_pinned(std::uint64_t cgroup_id);

// An open pinned map; Refusal when missing or of another layout (its type, `value_size`).
int open_pinned_map(const std::string& path, std::uint32_t type, std::uint32_t value_size);

kashim_settings read_settings(int settings_fd);
void write_settings(int settings_fd, const kashim_settings& settings);
using Counters = std::array<std::uint64_t, KASHIM_COUNTERS>;
Counters read_counters(int counters_fd);

}  // namespace kashim::cgroup
