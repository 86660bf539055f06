// `kashim cgroup status`: what the kernel program uses and what it did, read from the
// pinned maps of each persistent attachment.
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "commands.hpp"
#include "pins.hpp"
#include "programs.hpp"
#include "refusal.hpp"
#include "target.hpp"
#include "translate.hpp"

namespace kashim::cgroup {

namespace {

// Prints what the pins say; returns false when the attachment is DETACHED (its cgroup is
// still there but its links were detached from outside kashim; the pins stay) or INCOMPLETE
// (an attach was killed before it pinned both links).
bool print_attachment(const Target& target) {
  const std::string directory = pin_directory(target.id);
  const int settings_fd =
      open_pinned_map(directory + "/" + kPinSettings, BPF_MAP_TYPE_ARRAY, sizeof(kashim_settings));
  const kashim_settings settings = read_settings(settings_fd);
  close(settings_fd);
  const int counters_fd =
      open_pinned_map(directory + "/" + kPinCounters, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u64));
  const Counters counters = read_counters(counters_fd);
  close(counters_fd);
  const bool attached = target.path.empty() || pinned_links_attached(target.id);
  if (target.path.empty()) {
    std::printf("%s\n", target.display().c_str());
  } else if (attached) {
    std::printf("%s (cgroup %llu)\n", target.path.c_str(),
                static_cast<unsigned long long>(target.id));
  } else if (both_links_pinned(target.id)) {
    std::printf(
        "%s (cgroup %llu) DETACHED: its links were detached outside kashim, nothing is "
        "tuned (kashim cgroup attach attaches again, detach removes the pins)\n",
        target.path.c_str(), static_cast<unsigned long long>(target.id));
  } else {
    std::printf(
        "%s (cgroup %llu) INCOMPLETE: a link's pin is missing (an attach stopped midway, or "
        "a pin removed by hand); a link still pinned may be attached (kashim cgroup attach "
        "attaches again, detach removes it all)\n",
        target.path.c_str(), static_cast<unsigned long long>(target.id));
  }
  std::printf("  settings: %s\n", describe_bpf_settings(settings).c_str());
  std::printf(
      "  connections tuned: %llu out, %llu in; left alone: %llu not wanted, %llu with "
      "the program's own keep-alive\n",
      static_cast<unsigned long long>(counters[KASHIM_TUNED_OUT]),
      static_cast<unsigned long long>(counters[KASHIM_TUNED_IN]),
      static_cast<unsigned long long>(counters[KASHIM_NOT_WANTED]),
      static_cast<unsigned long long>(counters[KASHIM_KEPT_PROGRAMS]));
  std::printf("  options rewritten: %llu; connections with a failed setting: %llu\n",
              static_cast<unsigned long long>(counters[KASHIM_REWRITTEN]),
              static_cast<unsigned long long>(counters[KASHIM_SET_FAILED]));
  std::printf("  pinned at %s\n", directory.c_str());
  return attached;
}

}  // namespace

int status(const std::string& name) {
  if (!name.empty()) {
    const Target target = find_target(name);
    const std::string directory = pin_directory(target.id);
    if (access(directory.c_str(), F_OK) != 0) {
      // Only a pin directory that is not there says so: one we may not see says nothing.
      if (errno != ENOENT) throw Refusal(with_errno("cannot read " + directory, errno));
      throw Refusal(target.display() + ": not attached (kashim cgroup attach CGROUP attaches)");
    }
    return print_attachment(target) ? 0 : kExitRefused;
  }
  const std::vector<std::uint64_t> ids = pinned_cgroup_ids();
  if (ids.empty()) {
    std::printf(
        "kashim cgroup: no persistent attachment (kashim cgroup attach CGROUP makes one)\n");
  }
  int exit_code = 0;
  for (std::uint64_t id : ids) {
    try {
      if (!print_attachment(target_of(id))) exit_code = kExitRefused;
    } catch (const Refusal& refusal) {
      // Detached while we listed: gone, not an error. Anything else (pins an attach killed
      // midway left incomplete, another version's) is one line, and the others are listed.
      if (access(pin_directory(id).c_str(), F_OK) != 0) continue;
      std::fprintf(stderr, "kashim cgroup: %s\n", refusal.what());
      exit_code = kExitRefused;
    }
  }
  return exit_code;
}

}  // namespace kashim::cgroup
