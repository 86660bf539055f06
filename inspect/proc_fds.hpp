// A process's sockets as /proc shows them: which descriptor numbers hold a socket, and the
// socket's inode (the link /proc/PID/fd/N -> socket:[INODE]), which is how sock_diag's
// entries are matched to descriptors. Reading the links needs ptrace read permission over
// the process (its user, or root).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kashim::inspect {

struct SocketFd {
  int fd = -1;
  ino_t inode = 0;
};

struct ProcessListing {
  int error = 0;     // 0, or errno: ENOENT/ESRCH no such process, EACCES/EPERM not permitted
  std::string comm;  // the program's name, "?" when it cannot be read
  std::vector<SocketFd> sockets;
};

ProcessListing list_socket_fds(pid_t pid);

// The inode of the network namespace the process lives in (0 when it cannot be read).
ino_t network_namespace_of(pid_t pid);

// Every process in /proc, in increasing order.
std::vector<pid_t> all_processes();

}  // namespace kashim::inspect
