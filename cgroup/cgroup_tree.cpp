#include "cgroup_tree.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "refusal.hpp"

namespace kashim::cgroup {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& field) {
  std::string text;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3') {
      text += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                (field[i + 3] - '0'));
      i += 3;
    } else {
      text += field[i];
    }
  }
  return text;
}

bool is_cgroup2_directory(const std::string& path) {
  struct statfs filesystem;
  struct stat status;
  return statfs(path.c_str(), &filesystem) == 0 && filesystem.f_type == CGROUP2_SUPER_MAGIC &&
         stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

// A cgroup's file handle on kernfs: its 64-bit id (FILEID_KERNFS).
constexpr int kKernfsHandleType = 0xfe;
struct CgroupHandle {
  alignas(file_handle) unsigned char storage[sizeof(file_handle) + sizeof(std::uint64_t)] = {};
  file_handle* get() { return reinterpret_cast<file_handle*>(storage); }
};

}  // namespace

std::string with_errno(const std::string& what, int error) {
  std::string line = what + ": " + std::strerror(error);
  if (error == EPERM || error == EACCES) {
    line +=
        " (kashim cgroup needs CAP_BPF, CAP_NET_ADMIN and write access to the cgroup: run it"
        " as root)";
  }
  return line;
}

std::string cgroup2_mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    for (std::size_t i = 6; i + 1 < words.size(); ++i) {
      if (words[i] != "-" || words[i + 1] != "cgroup2") continue;
      // A mount another mount has since hidden (a container's own cgroup2 mounted over a
      // leftover one) is listed still, first: only one whose point shows cgroup2 counts.
      const std::string point = unescape_mountinfo(words[4]);
      if (is_cgroup2_directory(point)) return point;
    }
  }
  throw Refusal(
      "no cgroup v2 file system is mounted (/proc/self/mountinfo lists none): kashim cgroup "
      "needs the unified hierarchy (mount -t cgroup2 none /sys/fs/cgroup)");
}

std::string own_cgroup(const std::string& mount) {
  std::ifstream membership("/proc/self/cgroup");
  std::string line;
  while (std::getline(membership, line)) {
    if (line.rfind("0::", 0) == 0) {
      const std::string relative = line.substr(3);
      return relative == "/" ? mount : mount + relative;
    }
  }
  throw Refusal("/proc/self/cgroup has no cgroup v2 line (0::): this process is in no cgroup v2");
}

std::string resolve_cgroup(const std::string& mount, const std::string& name) {
  if (name.empty()) throw Refusal("the cgroup is empty: give a cgroup v2 directory", kExitUsage);
  // An absolute path as it is; otherwise relative to the mount first (how systemd and
  // /proc/PID/cgroup name cgroups), then to the working directory.
  std::string path = name;
  if (!is_cgroup2_directory(path) || name.front() != '/') {
    const std::string under_mount = mount + (name.front() == '/' ? "" : "/") + name;
    if (is_cgroup2_directory(under_mount) || name.front() == '/') path = under_mount;
  }
  if (!is_cgroup2_directory(path)) {
    throw Refusal("'" + name + "' is not a cgroup v2 directory (accepted: a directory under " +
                      mount + ", or a path relative to it such as system.slice/nginx.service)",
                  kExitUsage);
  }
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) throw Refusal(with_errno(path, errno));
  return resolved;
}

std::uint64_t cgroup_id(const std::string& path) {
  CgroupHandle handle;
  handle.get()->handle_bytes = sizeof(std::uint64_t);
  int mount_id = 0;
  if (name_to_handle_at(AT_FDCWD, path.c_str(), handle.get(), &mount_id, 0) != 0) {
    throw Refusal(with_errno("cannot read the id of cgroup " + path, errno));
  }
  std::uint64_t id = 0;
  std::memcpy(&id, handle.get()->f_handle, sizeof id);
  return id;
}

std::string cgroup_path_of(const std::string& mount, std::uint64_t id) {
  const int mount_fd = open(mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0) return "";
  CgroupHandle handle;
  handle.get()->handle_bytes = sizeof id;
  handle.get()->handle_type = kKernfsHandleType;
  std::memcpy(handle.get()->f_handle, &id, sizeof id);
  const int fd = open_by_handle_at(mount_fd, handle.get(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  close(mount_fd);
  if (fd < 0) return "";
  char path[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t length = readlink(link.c_str(), path, sizeof path - 1);
  close(fd);
  return length > 0 ? std::string(path, static_cast<std::size_t>(length)) : "";
}

}  // namespace kashim::cgroup
