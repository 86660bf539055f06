#include "inspection.hpp"

#include <fcntl.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>

#include "format.hpp"
#include "proc_fds.hpp"
#include "remote_fd.hpp"

namespace kashim::inspect {
namespace {

std::string yama_scope() {
  UniqueFd file(open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC));
  char text[8] = {};
  if (!file || read(file.get(), text, sizeof text - 1) <= 0) return "";
  return std::string(1, text[0]);
}

// Fills in the side of every socket once all of them are known.
void classify(std::vector<SocketView>* sockets) {
  std::vector<const DiagSocket*> listeners;
  for (const SocketView& socket : *sockets) {
    if (socket.diag.state == TCP_LISTEN) listeners.push_back(&socket.diag);
  }
  for (SocketView& socket : *sockets) socket.side = side_of(socket.diag, listeners);
}

}  // namespace

const DiagTable& DiagCache::table_for(pid_t pid, std::string* note) {
  static const ino_t own = network_namespace_of(getpid());
  ino_t netns = network_namespace_of(pid);
  if (netns == 0) netns = own;  // unreadable: the listing will say why
  auto found = tables_.find(netns);
  if (found != tables_.end()) {
    *note = notes_[netns];
    return found->second;
  }
  DiagTable& table = tables_[netns];
  std::string error;
  bool dumped = false;
  if (netns == own) {
    dumped = dump_tcp_sockets(&table, &error);
  } else {
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    UniqueFd namespace_fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    dumped = namespace_fd ? dump_tcp_sockets_in(namespace_fd.get(), &table, &error) : false;
    if (!namespace_fd) error = path + ": " + std::strerror(errno);
  }
  if (!dumped) {
    table.clear();
    notes_[netns] = "no kernel timers (sock_diag: " + error + ")" +
                    (netns == own ? "" : "; it lives in another network namespace");
  }
  *note = notes_[netns];
  return table;
}

ProcessView inspect_process(pid_t pid, DiagCache& cache) {
  ProcessView process;
  process.pid = pid;
  // The pidfd first: once it is open, the number cannot pass to a new process unnoticed.
  process.pidfd = open_process(pid);
  const int pidfd_error = process.pidfd ? 0 : errno;
  // EINVAL (ENOENT since Linux 6.9): the number is a thread's, not a process's.
  const bool thread = pidfd_error == EINVAL || pidfd_error == ENOENT;
  if (pidfd_error == ESRCH || thread) {
    process.problem = ProcessProblem::kNoSuchProcess;
    process.error = thread ? EINVAL : 0;
    return process;
  }
  ProcessListing listing = list_socket_fds(pid);
  process.comm = listing.comm.empty() ? "?" : listing.comm;
  if (listing.error == ENOENT || listing.error == ESRCH) {
    process.problem = ProcessProblem::kNoSuchProcess;
    return process;
  }
  if (listing.error != 0) {
    process.problem = ProcessProblem::kNotPermitted;
    process.error = listing.error;
    return process;
  }
  if (process.pidfd && process_exited(process.pidfd.get())) {
    process.problem = ProcessProblem::kExited;
    return process;
  }
  if (!process.pidfd) {  // a kernel older than 5.3: nothing can be duplicated either
    process.problem = ProcessProblem::kNoDuplicates;
    process.error = pidfd_error;
  }
  const DiagTable& table = cache.table_for(pid, &process.note);
  for (const SocketFd& listed : listing.sockets) {
    SocketView socket;
    socket.fd = listed.fd;
    auto found = table.find(listed.inode);
    const bool in_table = found != table.end();
    if (in_table) {
      socket.diag = found->second;
      socket.timer_known = true;
    } else {
      socket.diag.inode = listed.inode;
    }
    if (process.problem == ProcessProblem::kNoDuplicates) {
      if (in_table) process.sockets.push_back(socket);
      continue;
    }
    Duplicate duplicate = duplicate_socket(process.pidfd.get(), listed.fd, listed.inode);
    switch (duplicate.outcome) {
      case Duplicate::Outcome::kOk:
        break;
      case Duplicate::Outcome::kReused:
        socket.reused = true;
        if (in_table) process.sockets.push_back(socket);
        continue;
      case Duplicate::Outcome::kClosed:
        if (!process_exited(process.pidfd.get())) continue;  // closed meanwhile: gone
        [[fallthrough]];
      case Duplicate::Outcome::kExited:
        process.problem = ProcessProblem::kExited;
        process.sockets.clear();
        return process;
      case Duplicate::Outcome::kRefused:
        process.problem = ProcessProblem::kNoDuplicates;
        process.error = duplicate.error;
        if (in_table) process.sockets.push_back(socket);
        continue;
    }
    // Not in sock_diag's table: TCP in another namespace, not yet connected, or not TCP.
    if (!in_table && !describe_from_descriptor(duplicate.fd.get(), &socket.diag)) continue;
    socket.values = read_keepalive_values(duplicate.fd.get());
    process.sockets.push_back(socket);
  }
  classify(&process.sockets);
  return process;
}

std::string problem_text(const ProcessView& process) {
  const std::string who = "pid " + std::to_string(process.pid);
  switch (process.problem) {
    case ProcessProblem::kNone:
      return "";
    case ProcessProblem::kNoSuchProcess:
      if (process.error != EINVAL) return who + ": no such process";
      return who + " is a thread, not a process: give its process ID (Tgid in /proc/" +
             std::to_string(process.pid) + "/status)";
    case ProcessProblem::kExited:
      return who + " (" + printable(process.comm) + "): has exited";
    case ProcessProblem::kNotPermitted:
      return who + " (" + printable(process.comm) + "): its descriptors cannot be listed (/proc/" +
             std::to_string(process.pid) + "/fd: " + std::strerror(process.error) +
             "): run as its user or as root";
    case ProcessProblem::kNoDuplicates:
      break;
  }
  std::string text = who + " (" + printable(process.comm) +
                     "): keep-alive values unknown, its sockets " +
                     "cannot be duplicated (pidfd_getfd: " + std::strerror(process.error) + ")";
  if (process.error == ENOSYS) return text + ": Linux 5.6 or later is needed";
  if (process.error != EPERM && process.error != EACCES) return text;
  const std::string scope = yama_scope();
  if (!scope.empty() && scope != "0") {
    return text + ": Yama's ptrace_scope is " + scope + "; run as root or with CAP_SYS_PTRACE";
  }
  return text + ": it needs ptrace permission (the process's user, root or CAP_SYS_PTRACE)";
}

}  // namespace kashim::inspect
