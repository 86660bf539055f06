// A process's sockets as /proc shows them: which descriptor numbers hold a socket, and the
// socket's inode (the link /proc/PID/fd/N -> socket:[INODE]), which is how sock_diag's
// entries are matched to descriptors. Reading the links needs ptrace read permission over
// the process (its user, or root).
//
// A process whose main thread has exited (pthread_exit) while others run on shows an empty
// /proc/PID/fd: the zombie main thread holds no descriptor table any more. Its threads
// share one, so the listing then reads a live thread's (/proc/PID/task/TID), and the
// program's names and network namespace are read there too.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kashim::inspect {

struct SocketFd {
  int fd = -1;
  ino_t inode = 0;
};

// A thread's own descriptor table (unshare(CLONE_FILES)), by one of its threads, and the
// inodes of the sockets only it holds (of any kind: which are TCP, sock_diag tells).
struct OwnTable {
  pid_t thread = 0;
  std::vector<ino_t> sockets;
};

struct ProcessListing {
  int error = 0;     // 0, or errno: ENOENT/ESRCH no such process, EACCES/EPERM not permitted
  std::string comm;  // the program's name, "?" when it cannot be read
  std::vector<SocketFd> sockets;
  // Where the descriptors were read: "/proc/PID", or "/proc/PID/task/TID" when the main
  // thread has exited and `thread` (TID) is the live thread read instead.
  std::string proc_dir;
  pid_t thread = 0;
  // The names the library scopes a program by (KASHIM_PROGRAMS, the configuration file's
  // [program] sections): the base names of the path exec was given (AT_EXECFN, as the
  // library reads it; /proc/PID/exe when it cannot be read) and of argv[0]
  // (/proc/PID/cmdline). Empty when they cannot be read (a kernel thread).
  std::string executable;
  std::string invoked;
  // Threads with a descriptor table of their own (unshare(CLONE_FILES), clone without
  // CLONE_FILES) that holds sockets the table read does not. They are counted, not read.
  std::vector<OwnTable> own_tables;
};

ProcessListing list_socket_fds(pid_t pid);

// The inode of the socket descriptor `fd` holds now in the table /proc directory `proc_dir`
// describes; 0 when it holds no socket (closed, or another kind of file).
ino_t socket_inode_now(const std::string& proc_dir, int fd);

// The inode of the network namespace of the process /proc directory `proc_dir` describes
// (0 when it cannot be read).
ino_t network_namespace_of(const std::string& proc_dir);

// Every process in /proc, in increasing order.
std::vector<pid_t> all_processes();

}  // namespace kashim::inspect
