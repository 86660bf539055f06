// `kashim cgroup attach` and `detach`: pinned links that outlive the command.
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "cgroup_tree.hpp"
#include "commands.hpp"
#include "pins.hpp"
#include "programs.hpp"
#include "refusal.hpp"
#include "target.hpp"
#include "translate.hpp"

namespace kashim::cgroup {

namespace {

bool exists(const std::string& path) {
  struct stat status;
  return lstat(path.c_str(), &status) == 0;
}

bool fully_pinned(const std::string& directory) {
  for (const char* name : kPinNames) {
    if (!exists(directory + "/" + name)) return false;
  }
  return true;
}

// Undoes exactly what this attach pinned and created, unless the attachment completed:
// never a pin of another process's (PinLock keeps them out anyway).
class PinGuard {
 public:
  ~PinGuard() {
    if (done_) return;
    for (auto path = pinned_.rbegin(); path != pinned_.rend(); ++path) unlink(path->c_str());
    if (!directory_.empty()) rmdir(directory_.c_str());
  }
  void make_directory(const std::string& path) {
    if (mkdir(path.c_str(), 0700) != 0) throw Refusal(with_errno("cannot create " + path, errno));
    directory_ = path;
  }
  std::vector<std::string>* pinned() { return &pinned_; }
  void done() { done_ = true; }

 private:
  std::vector<std::string> pinned_;
  std::string directory_;  // "" unless this attach made it
  bool done_ = false;
};

// The root cgroup's id (cgroup2's root directory is inode 1): every process of the system,
// and the kernel's own sockets (kernel threads live there).
constexpr std::uint64_t kRootCgroupId = 1;

}  // namespace

int attach(const Config& config, const std::string& name) {
  const std::string mount = cgroup2_mount();
  const std::string path = resolve_cgroup(mount, name);
  probe_kernel();
  ensure_bpffs();
  const std::uint64_t id = cgroup_id(path);
  const std::string directory = pin_directory(id);
  const kashim_settings settings = to_bpf_settings(config);
  const PinLock lock(true);  // until we are done: another attach or detach waits
  bool detached_outside = false;
  if (fully_pinned(directory)) {
    if (pinned_links_attached(id)) {
      // Attached already: new settings in place, for the connections established from now on.
      const int fd =
          open_pinned_map(directory + "/" + kPinSettings, BPF_MAP_TYPE_ARRAY, sizeof settings);
      write_settings(fd, settings);
      close(fd);
      std::printf("kashim cgroup: settings of %s updated: %s\n", path.c_str(),
                  describe_bpf_settings(settings).c_str());
      return 0;
    }
    detached_outside = true;  // pins whose links something else detached: attach afresh
  }
  remove_pins(id);  // what an interrupted attach, or a detach from outside, left
  Programs programs(settings);
  const int cgroup_fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup_fd < 0) throw Refusal(with_errno("cannot open " + path, errno));
  PinGuard guard;  // destroyed before `programs`: our links go with their pins
  try {
    programs.attach(cgroup_fd, path);
  } catch (...) {
    close(cgroup_fd);
    throw;
  }
  close(cgroup_fd);
  guard.make_directory(directory);
  programs.pin(directory, guard.pinned());
  guard.done();
  if (id == kRootCgroupId) {
    std::fprintf(stderr,
                 "kashim cgroup: %s is the root cgroup: the kernel's own TCP sockets (NFS, "
                 "iSCSI...) are tuned too\n",
                 path.c_str());
  }
  std::printf(
      "kashim cgroup: attached to %s (cgroup %llu, pinned at %s%s): %s\n", path.c_str(),
      static_cast<unsigned long long>(id), directory.c_str(),
      detached_outside ? "; its links had been detached outside kashim, counters restart" : "",
      describe_bpf_settings(settings).c_str());
  return 0;
}

int detach(const std::string& name) {
  const Target target = find_target(name);
  const PinLock lock(false);
  if (!lock.held() || !remove_pins(target.id)) {
    throw Refusal("nothing of kashim's is attached to " + target.display());
  }
  std::printf("kashim cgroup: detached from %s\n", target.display().c_str());
  return 0;
}

}  // namespace kashim::cgroup
