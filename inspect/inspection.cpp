#include "inspection.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "format.hpp"
#include "net_cgroups.hpp"
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

// Fills in the side of every socket once all of them are known. A connection was accepted
// from a listener of the process itself or of any other process of its network namespace
// (`namespace_listeners`): sshd's sessions, pre-forked workers and systemd's Accept=yes
// services hold connections whose listener stays with their parent.
void classify(std::vector<SocketView>* sockets,
              const std::vector<const DiagSocket*>& namespace_listeners) {
  std::vector<const DiagSocket*> listeners = namespace_listeners;
  for (const SocketView& socket : *sockets) {
    if (socket.diag.state == TCP_LISTEN) listeners.push_back(&socket.diag);
  }
  for (SocketView& socket : *sockets) socket.side = side_of(socket.diag, listeners);
}

ino_t own_namespace() {
  static const ino_t own = network_namespace_of("/proc/self");
  return own;
}

// A connection the process's namespace does not list (sock_diag's table for it): one it
// received from a process in another network namespace, or one made after the listing.
// Its own namespace is asked (SIOCGSKNS, then sock_diag there); otherwise `timer_note` says
// why TIMER stays unknown.
void find_timer_elsewhere(int socket_fd, ino_t process_netns, DiagCache& cache,
                          SocketView* socket) {
  UniqueFd netns_fd(ioctl(socket_fd, SIOCGSKNS));
  if (!netns_fd) {
    socket->timer_note =
        std::string("sock_diag does not list it in the process's network ") +
        "namespace, and its own cannot be found (SIOCGSKNS: " + std::strerror(errno) + ")";
    return;
  }
  struct stat status {};
  const ino_t netns = fstat(netns_fd.get(), &status) == 0 ? status.st_ino : 0;
  if (netns == 0 || netns == process_netns) {
    socket->timer_note = "sock_diag did not list it (it changed state meanwhile; run again)";
    return;
  }
  std::string why;
  const DiagTable& table = cache.table_in(netns_fd.get(), netns, &why);
  auto found = table.find(socket->diag.inode);
  if (found != table.end()) {
    socket->diag = found->second;
    socket->timer_known = true;
    return;
  }
  socket->timer_note = "its connection lives in another network namespace (net:[" +
                       std::to_string(netns) + "])" +
                       (why.empty() ? ", where sock_diag did not list it" : ": " + why);
}

}  // namespace

const DiagTable& DiagCache::table_for(const std::string& proc_dir, std::string* note) {
  ino_t netns = network_namespace_of(proc_dir);
  if (netns == 0) netns = own_namespace();  // unreadable: the listing will say why
  if (netns == own_namespace()) return table_in(-1, netns, note);
  const std::string path = proc_dir + "/ns/net";
  UniqueFd namespace_fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!namespace_fd && tables_.find(netns) == tables_.end()) {
    tables_[netns];
    notes_[netns] = "no kernel timers (sock_diag: " + path + ": " + std::strerror(errno) +
                    "); it lives in another network namespace";
  }
  return table_in(namespace_fd.get(), netns, note);
}

const DiagTable& DiagCache::table_in(int netns_fd, ino_t netns, std::string* note) {
  auto found = tables_.find(netns);
  if (found != tables_.end()) {
    *note = notes_[netns];
    return found->second;
  }
  DiagTable& table = tables_[netns];
  std::string error;
  const bool own = netns == own_namespace();
  const bool dumped =
      own ? dump_tcp_sockets(&table, &error) : dump_tcp_sockets_in(netns_fd, &table, &error);
  if (!dumped) {
    table.clear();
    notes_[netns] = "no kernel timers (sock_diag: " + error + ")" +
                    (own ? "" : "; it lives in another network namespace");
  }
  *note = notes_[netns];
  return table;
}

const std::vector<const DiagSocket*>& DiagCache::listeners_in(const DiagTable& table) {
  auto [found, added] = listeners_.try_emplace(&table);
  if (added) {
    for (const auto& [inode, socket] : table) {
      if (socket.state == TCP_LISTEN) found->second.push_back(&socket);
    }
  }
  return found->second;
}

ProcessView inspect_process(pid_t pid, DiagCache& cache, const std::function<void()>& between) {
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
  if (between) between();
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
  process.executable = listing.executable;
  process.invoked = listing.invoked;
  process.thread = listing.thread;
  if (!process.pidfd) {  // a kernel older than 5.3: nothing can be duplicated either
    process.problem = ProcessProblem::kNoDuplicates;
    process.error = pidfd_error;
  } else if (process.net_cgroup = net_cgroup_difference(listing.proc_dir);
             !process.net_cgroup.empty()) {
    process.problem = ProcessProblem::kNoDuplicates;  // a duplicate would reclassify its traffic
  } else if (process.thread != 0) {
    process.thread_pidfd = open_thread(process.thread);
    if (!process.thread_pidfd) {  // before Linux 6.9 (EINVAL), or the thread exited (ESRCH)
      process.problem = ProcessProblem::kNoDuplicates;
      process.error = errno;
    }
  }
  const DiagTable& table = cache.table_for(listing.proc_dir, &process.note);
  // Threads' own tables: their TCP connections and listeners (sock_diag lists them; an
  // unconnected TCP socket it does not, nor any other kind), counted.
  for (const OwnTable& own : listing.own_tables) {
    const auto tcp = [&table](ino_t inode) { return table.find(inode) != table.end(); };
    const int count = static_cast<int>(std::count_if(own.sockets.begin(), own.sockets.end(), tcp));
    if (count > 0) process.own_tables.emplace_back(own.thread, count);
  }
  const ino_t netns = network_namespace_of(listing.proc_dir);
  for (SocketFd listed : listing.sockets) {
    // A number closed and given to another socket between the listing and the duplication
    // is read again, once: what the process holds there now is what it holds.
    bool read_again = true;
  retry:
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
    Duplicate duplicate = duplicate_socket(process.files_pidfd(), listed.fd, listed.inode);
    switch (duplicate.outcome) {
      case Duplicate::Outcome::kOk:
        break;
      case Duplicate::Outcome::kReused:
        if (read_again) {
          read_again = false;
          listed.inode = socket_inode_now(listing.proc_dir, listed.fd);
          if (listed.inode == 0) continue;  // no socket there now: closed meanwhile, gone
          goto retry;
        }
        // The number keeps changing hands: reported, when what it held was TCP.
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
    if (!in_table) {
      if (!describe_from_descriptor(duplicate.fd.get(), &socket.diag)) continue;
      // Connected or listening, so the kernel has timers for it: in which namespace? An
      // unconnected socket has none (sock_diag lists it only once bound): known, none.
      if (socket.diag.state != TCP_CLOSE) {
        find_timer_elsewhere(duplicate.fd.get(), netns, cache, &socket);
      } else {
        socket.timer_known = true;
      }
    }
    socket.values = read_keepalive_values(duplicate.fd.get());
    process.sockets.push_back(socket);
  }
  if (!process.sockets.empty()) classify(&process.sockets, cache.listeners_in(table));
  return process;
}

std::vector<std::string> own_table_lines(const ProcessView& process) {
  std::vector<std::string> lines;
  for (const auto& [thread, sockets] : process.own_tables) {
    lines.push_back("thread " + std::to_string(thread) +
                    " has a descriptor table of its own (unshare(CLONE_FILES)) holding " +
                    std::to_string(sockets) + " TCP socket" + (sockets == 1 ? "" : "s") +
                    ": not read (kashim reads the process's table only)");
  }
  return lines;
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
             std::to_string(process.pid) + "/fd: " + std::strerror(process.error) + "): " +
             (geteuid() == 0 ? "root may not either: it is in a user namespace this one does not "
                               "own, or a security policy protects it"
                             : "run as its user or as root");
    case ProcessProblem::kNoDuplicates:
      break;
  }
  if (!process.net_cgroup.empty()) {
    return who + " (" + printable(process.comm) +
           "): keep-alive values unknown: its sockets were not duplicated, which would give them " +
           "kashim's net_cls class id and net_prio index; it is in " +
           printable(process.net_cgroup) + ": run kashim in its cgroups (cgexec)";
  }
  std::string text = who + " (" + printable(process.comm) +
                     "): keep-alive values unknown, its sockets " +
                     "cannot be duplicated (pidfd_getfd: " + std::strerror(process.error) + ")";
  if (process.error == ENOSYS) return text + ": Linux 5.6 or later is needed";
  if (process.thread != 0 && process.error == EINVAL) {
    return who + " (" + printable(process.comm) +
           "): keep-alive values unknown: its main thread has exited, and its descriptors are "
           "reached only through a live thread's pidfd (PIDFD_THREAD, Linux 6.9 or later)";
  }
  if (process.error != EPERM && process.error != EACCES) return text;
  const std::string scope = yama_scope();
  if (!scope.empty() && scope != "0") {
    return text + ": Yama's ptrace_scope is " + scope + "; run as root or with CAP_SYS_PTRACE";
  }
  return text + ": it needs ptrace permission (the process's user, root or CAP_SYS_PTRACE)";
}

}  // namespace kashim::inspect
