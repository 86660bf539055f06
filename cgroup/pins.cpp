#include "pins.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include "programs.hpp"
#include "refusal.hpp"

namespace kashim::cgroup {

namespace {

// flock(2) that waits, through signals.
int lock_exclusively(int fd) {
  int result;
  while ((result = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
  }
  return result;
}

bool same_file(int fd, const char* path) {
  struct stat opened, named;
  return fstat(fd, &opened) == 0 && stat(path, &named) == 0 && opened.st_dev == named.st_dev &&
         opened.st_ino == named.st_ino;
}

}  // namespace

void ensure_bpffs() {
  struct statfs filesystem;
  if (statfs(kBpffs, &filesystem) == 0 && filesystem.f_type == BPF_FS_MAGIC) return;
  // The directory under the mount point: whoever mounts first makes the others, waiting
  // here on the same directory, find bpffs mounted rather than mount a second one over it.
  const int under = open(kBpffs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (under >= 0) lock_exclusively(under);
  int error = 0;
  if (statfs(kBpffs, &filesystem) != 0 || filesystem.f_type != BPF_FS_MAGIC) {
    // Only root may pin, and bpffs holds nothing of anyone else's until they pin too.
    if (mount("bpf", kBpffs, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) {
      error = errno;
    }
  }
  if (under >= 0) close(under);
  if (error != 0) throw Refusal(with_errno(std::string("cannot mount bpffs at ") + kBpffs, error));
}

PinLock::PinLock(bool create) {
  // Bounded: each retry means another process removed kPinRoot in between, i.e. finished.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (create && mkdir(kPinRoot, 0700) != 0 && errno != EEXIST) {
      throw Refusal(with_errno(std::string("cannot create ") + kPinRoot, errno));
    }
    const int fd = open(kPinRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT && create) continue;  // removed between mkdir and open
      if (errno == ENOENT) return;
      throw Refusal(with_errno(std::string("cannot open ") + kPinRoot, errno));
    }
    if (lock_exclusively(fd) != 0) {
      const int error = errno;
      close(fd);
      throw Refusal(with_errno(std::string("cannot lock ") + kPinRoot, error));
    }
    // The holder before us may have removed it on release: then it is a new one (or none)
    // that the others lock, and ours locks nothing.
    if (same_file(fd, kPinRoot)) {
      fd_ = fd;
      return;
    }
    close(fd);
  }
  throw Refusal(std::string("cannot lock ") + kPinRoot + ": removed and made again 1000 times");
}

PinLock::~PinLock() {
  if (fd_ < 0) return;
  rmdir(kPinRoot);  // fails, harmlessly, while some cgroup is attached
  close(fd_);
}

std::string pin_directory(std::uint64_t cgroup_id) {
  return std::string(kPinRoot) + "/" + std::to_string(cgroup_id);
}

std::vector<std::uint64_t> pinned_cgroup_ids() {
  std::vector<std::uint64_t> ids;
  DIR* directory = opendir(kPinRoot);
  if (directory == nullptr) {
    if (errno == ENOENT) return ids;
    throw Refusal(with_errno(std::string("cannot list ") + kPinRoot, errno));
  }
  while (const dirent* entry = readdir(directory)) {
    const char* name = entry->d_name;
    std::uint64_t id = 0;
    const char* end = name + std::strlen(name);
    auto [stop, error] = std::from_chars(name, end, id);
    if (error == std::errc() && stop == end) ids.push_back(id);
  }
  closedir(directory);
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool remove_pins(std::uint64_t cgroup_id) {
  const std::string directory = pin_directory(cgroup_id);
  bool removed = false;
  for (const char* name : kPinNames) {
    const std::string path = directory + "/" + name;
    if (std::string_view(name) == kPinSockopsLink || std::string_view(name) == kPinSetsockoptLink) {
      // Detach now, not when the last holder lets go: `kashim cgroup status` running at the
      // same time must not keep the programs attached.
      if (int fd = bpf_obj_get(path.c_str()); fd >= 0) {
        bpf_link_detach(fd);
        close(fd);
      }
    }
    if (unlink(path.c_str()) == 0) removed = true;
  }
  if (rmdir(directory.c_str()) == 0) removed = true;
  return removed;
}

bool pinned_links_attached(std::uint64_t cgroup_id) {
  const std::string directory = pin_directory(cgroup_id);
  for (const char* name : {kPinSockopsLink, kPinSetsockoptLink}) {
    const int fd = bpf_obj_get((directory + "/" + name).c_str());
    if (fd < 0) return false;
    bpf_link_info info{};
    __u32 length = sizeof info;
    const bool attached = bpf_obj_get_info_by_fd(fd, &info, &length) == 0 &&
                          info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == cgroup_id;
    close(fd);
    if (!attached) return false;
  }
  return true;
}

bool both_links_pinned(std::uint64_t cgroup_id) {
  const std::string directory = pin_directory(cgroup_id);
  for (const char* name : {kPinSockopsLink, kPinSetsockoptLink}) {
    struct stat status {};
    if (stat((directory + "/" + name).c_str(), &status) != 0) return false;
  }
  return true;
}

int open_pinned_map(const std::string& path, std::uint32_t type, std::uint32_t value_size) {
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) throw Refusal(with_errno("cannot open " + path, errno));
  bpf_map_info info{};
  __u32 length = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0 || info.type != type ||
      info.value_size != value_size) {
    close(fd);
    throw Refusal(path + " was pinned by another version of kashim: detach it with that version" +
                  " (or remove " + path.substr(0, path.rfind('/')) + ") first");
  }
  return fd;
}

kashim_settings read_settings(int settings_fd) {
  kashim_settings settings{};
  const __u32 zero = 0;
  if (bpf_map_lookup_elem(settings_fd, &zero, &settings) != 0) {
    throw Refusal(with_errno("cannot read the settings map", errno));
  }
  return settings;
}

void write_settings(int settings_fd, const kashim_settings& settings) {
  const __u32 zero = 0;
  if (bpf_map_update_elem(settings_fd, &zero, &settings, BPF_ANY) != 0) {
    throw Refusal(with_errno("cannot write the settings map", errno));
  }
}

Counters read_counters(int counters_fd) {
  // A per-CPU map: one value per possible CPU, summed.
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw Refusal(with_errno("cannot count the possible CPUs", -cpus));
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  Counters counters{};
  for (__u32 slot = 0; slot < counters.size(); ++slot) {
    if (bpf_map_lookup_elem(counters_fd, &slot, per_cpu.data()) != 0) {
      throw Refusal(with_errno("cannot read the counters map", errno));
    }
    for (std::uint64_t value : per_cpu) counters[slot] += value;
  }
  return counters;
}

}  // namespace kashim::cgroup
