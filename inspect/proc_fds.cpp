#include "proc_fds.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>

#include "program_of_process.hpp"
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

// The start of a small /proc file ("" when it cannot be read).
std::string read_small_file(const std::string& path) {
  UniqueFd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char text[512];
  ssize_t got = file ? read(file.get(), text, sizeof text) : -1;
  return got > 0 ? std::string(text, static_cast<std::size_t>(got)) : std::string();
}

std::string read_comm(pid_t pid) {
  std::string comm = read_small_file("/proc/" + std::to_string(pid) + "/comm");
  if (comm.empty()) return "?";
  if (comm.back() == '\n') comm.pop_back();
  return comm;
}

// The state letter of /proc/.../stat ("pid (comm) S ..."; comm may hold ')' itself).
char thread_state(const std::string& stat_path) {
  const std::string stat = read_small_file(stat_path);
  const auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

bool is_dead(char state) {
  return state == 'Z' || state == 'X';
}

// A thread of `pid` other than the main one that has not exited, or 0.
pid_t live_thread(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* entries = opendir(tasks.c_str());
  if (entries == nullptr) return 0;
  pid_t found = 0;
  while (dirent* entry = readdir(entries)) {
    pid_t tid = 0;
    if (!parse_number(entry->d_name, &tid) || tid == pid) continue;
    if (!is_dead(thread_state(tasks + "/" + entry->d_name + "/stat"))) {
      found = tid;
      break;
    }
  }
  closedir(entries);
  return found;
}

// The thread the descriptors were read through: a process's main thread that has exited
// has no memory left to read its names from.
void read_names(pid_t pid, ProcessListing* listing) {
  ProcessProgram program = program_of_process(listing->thread != 0 ? listing->thread : pid);
  listing->executable = std::move(program.executable);
  listing->invoked = std::move(program.invoked);
}

// The inode of a /proc/PID/fd/N link's "socket:[INODE]", or 0 for any other link.
ino_t socket_inode_of(std::string_view link) {
  constexpr std::string_view kSocketPrefix = "socket:[";
  if (!link.starts_with(kSocketPrefix) || !link.ends_with(']')) return 0;
  link.remove_prefix(kSocketPrefix.size());
  link.remove_suffix(1);
  ino_t inode = 0;
  return parse_number(link, &inode) ? inode : 0;
}

// The sockets the descriptor table /proc directory `fd_directory` lists, by number, into
// `sockets`: 0, or the errno that refused the listing (sockets read until then stay).
int read_socket_fds(const std::string& fd_directory, std::vector<SocketFd>* sockets) {
  UniqueFd handle(open(fd_directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!handle) return errno;
  DIR* entries = fdopendir(handle.get());
  if (entries == nullptr) return errno;
  const int directory_fd = handle.release();  // the DIR owns it now
  int error = 0;
  while (dirent* entry = readdir(entries)) {
    int fd = -1;
    if (!parse_number(entry->d_name, &fd)) continue;  // "." and ".."
    char target[64];
    ssize_t length = readlinkat(directory_fd, entry->d_name, target, sizeof target);
    if (length < 0) {
      // Closed since the directory was read (ENOENT) is normal; refused is not.
      if (errno == EACCES || errno == EPERM) {
        error = errno;
        break;
      }
      continue;
    }
    const ino_t inode = socket_inode_of(std::string_view(target, static_cast<std::size_t>(length)));
    if (inode != 0) sockets->push_back({fd, inode});
  }
  closedir(entries);
  return error;
}

// Whether threads `a` and `b` share one descriptor table (kcmp; an error counts as shared,
// so that nothing is reported that is not there).
bool same_table(pid_t a, pid_t b) {
  return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0) <= 0;
}

// The sockets the descriptor table /proc directory `fd_directory` lists holds that are not
// among `read` (a table unshared later holds copies of the process's descriptors), once each.
std::vector<ino_t> other_sockets_in(const std::string& fd_directory,
                                    const std::vector<SocketFd>& read) {
  std::vector<SocketFd> held;
  read_socket_fds(fd_directory, &held);
  std::vector<ino_t> others;
  for (const SocketFd& socket : held) {
    const auto same = [&socket](const SocketFd& mine) { return mine.inode == socket.inode; };
    if (std::none_of(read.begin(), read.end(), same) &&
        std::find(others.begin(), others.end(), socket.inode) == others.end()) {
      others.push_back(socket.inode);
    }
  }
  return others;
}

// The threads of `pid` whose descriptor table is not `read_through`'s, one per table, with
// the sockets each table holds that `read` (the table read) does not.
std::vector<OwnTable> other_tables(pid_t pid, pid_t read_through,
                                   const std::vector<SocketFd>& read) {
  std::vector<OwnTable> tables;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* entries = opendir(tasks.c_str());
  if (entries == nullptr) return tables;
  std::vector<pid_t> seen = {read_through};  // one thread of each table met so far
  while (dirent* entry = readdir(entries)) {
    pid_t tid = 0;
    if (!parse_number(entry->d_name, &tid) || tid == read_through) continue;
    if (std::any_of(seen.begin(), seen.end(),
                    [&](pid_t other) { return same_table(other, tid); })) {
      continue;
    }
    seen.push_back(tid);
    std::vector<ino_t> sockets = other_sockets_in(tasks + "/" + entry->d_name + "/fd", read);
    if (!sockets.empty()) tables.push_back({tid, std::move(sockets)});
  }
  closedir(entries);
  return tables;
}

}  // namespace

ProcessListing list_socket_fds(pid_t pid) {
  ProcessListing listing;
  listing.comm = read_comm(pid);  // anyone may read it, even where the descriptors are hidden
  listing.proc_dir = "/proc/" + std::to_string(pid);
  if (is_dead(thread_state(listing.proc_dir + "/stat"))) {
    // The main thread has exited: its threads' shared descriptor table is read through one
    // that lives. None: the whole process is exiting, and its empty table says so.
    if (const pid_t thread = live_thread(pid); thread != 0) {
      listing.thread = thread;
      listing.proc_dir += "/task/" + std::to_string(thread);
    }
  }
  listing.error = read_socket_fds(listing.proc_dir + "/fd", &listing.sockets);
  if (listing.error != 0) return listing;
  listing.own_tables =
      other_tables(pid, listing.thread != 0 ? listing.thread : pid, listing.sockets);
  read_names(pid, &listing);
  std::sort(listing.sockets.begin(), listing.sockets.end(),
            [](const SocketFd& a, const SocketFd& b) { return a.fd < b.fd; });
  return listing;
}

ino_t socket_inode_now(const std::string& proc_dir, int fd) {
  const std::string path = proc_dir + "/fd/" + std::to_string(fd);
  char target[64];
  const ssize_t length = readlink(path.c_str(), target, sizeof target);
  return length > 0 ? socket_inode_of(std::string_view(target, static_cast<std::size_t>(length)))
                    : 0;
}

ino_t network_namespace_of(const std::string& proc_dir) {
  const std::string path = proc_dir + "/ns/net";
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
