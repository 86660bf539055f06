// `kashim cgroup attach` and `detach`: pinned links that outlive the command.
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

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

void make_directory(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Refusal(with_errno("cannot create " + path, errno));
  }
}

// Removes whatever was pinned unless the attachment completed.
class PinGuard {
 public:
  explicit PinGuard(std::uint64_t id) : id_(id) {}
  ~PinGuard() {
    if (!done_) remove_pins(id_);
  }
  void done() { done_ = true; }

 private:
  std::uint64_t id_;
  bool done_ = false;
};

}  // namespace

int attach(const Config& config, const std::string& name) {
  const std::string mount = cgroup2_mount();
  const std::string path = resolve_cgroup(mount, name);
  probe_kernel();
  ensure_bpffs();
  const std::uint64_t id = cgroup_id(path);
  const std::string directory = pin_directory(id);
  const kashim_settings settings = to_bpf_settings(config);
  if (fully_pinned(directory)) {
    // Attached already: new settings in place, for the connections established from now on.
    const int fd =
        open_pinned_map(directory + "/" + kPinSettings, BPF_MAP_TYPE_ARRAY, sizeof settings);
    write_settings(fd, settings);
    close(fd);
    std::printf("kashim cgroup: settings of %s updated: %s\n", path.c_str(),
                describe_bpf_settings(settings).c_str());
    return 0;
  }
  remove_pins(id);  // what an interrupted attach may have left
  Programs programs(settings);
  const int cgroup_fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup_fd < 0) throw Refusal(with_errno("cannot open " + path, errno));
  PinGuard guard(id);
  try {
    programs.attach(cgroup_fd, path);
  } catch (...) {
    close(cgroup_fd);
    throw;
  }
  close(cgroup_fd);
  make_directory(kPinRoot);
  make_directory(directory);
  programs.pin(directory);
  guard.done();
  std::printf("kashim cgroup: attached to %s (cgroup %llu, pinned at %s): %s\n", path.c_str(),
              static_cast<unsigned long long>(id), directory.c_str(),
              describe_bpf_settings(settings).c_str());
  return 0;
}

int detach(const std::string& name) {
  const Target target = find_target(name);
  if (!remove_pins(target.id)) {
    throw Refusal("nothing of kashim's is attached to " + target.display());
  }
  std::printf("kashim cgroup: detached from %s\n", target.display().c_str());
  return 0;
}

}  // namespace kashim::cgroup
