#include "proc_fds.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>

#include "unique_fd.hpp"

namespace kashim::inspect {
namespace {

// A whole non-negative decimal number and nothing else.
template <typename Number>
bool parse_number(std::string_view text, Number* value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

std::string read_comm(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/comm";
  UniqueFd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char text[64];
  ssize_t got = file ? read(file.get(), text, sizeof text) : -1;
  if (got <= 0) return "?";
  std::string comm(text, static_cast<std::size_t>(got));
  if (comm.back() == '\n') comm.pop_back();
  return comm;
}

}  // namespace

ProcessListing list_socket_fds(pid_t pid) {
  ProcessListing listing;
  listing.comm = read_comm(pid);  // anyone may read it, even where the descriptors are hidden
  const std::string directory = "/proc/" + std::to_string(pid) + "/fd";
  UniqueFd handle(open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!handle) {
    listing.error = errno;
    return listing;
  }
  DIR* entries = fdopendir(handle.get());
  if (entries == nullptr) {
    listing.error = errno;
    return listing;
  }
  const int directory_fd = handle.release();  // the DIR owns it now
  constexpr std::string_view kSocketPrefix = "socket:[";
  errno = 0;
  while (dirent* entry = readdir(entries)) {
    int fd = -1;
    if (!parse_number(entry->d_name, &fd)) continue;  // "." and ".."
    char target[64];
    ssize_t length = readlinkat(directory_fd, entry->d_name, target, sizeof target);
    if (length < 0) {
      // Closed since the directory was read (ENOENT) is normal; refused is not.
      if (errno == EACCES || errno == EPERM) {
        listing.error = errno;
        break;
      }
      continue;
    }
    std::string_view link(target, static_cast<std::size_t>(length));
    if (!link.starts_with(kSocketPrefix) || !link.ends_with(']')) continue;
    link.remove_prefix(kSocketPrefix.size());
    link.remove_suffix(1);
    ino_t inode = 0;
    if (parse_number(link, &inode)) listing.sockets.push_back({fd, inode});
  }
  closedir(entries);
  std::sort(listing.sockets.begin(), listing.sockets.end(),
            [](const SocketFd& a, const SocketFd& b) { return a.fd < b.fd; });
  return listing;
}

ino_t network_namespace_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  struct stat status {};
  return stat(path.c_str(), &status) == 0 ? status.st_ino : 0;
}

std::vector<pid_t> all_processes() {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    if (parse_number(entry->d_name, &pid) && pid > 0) pids.push_back(pid);
  }
  closedir(proc);
  std::sort(pids.begin(), pids.end());
  return pids;
}

}  // namespace kashim::inspect
