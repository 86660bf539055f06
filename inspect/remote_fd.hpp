// Another process's sockets, duplicated into this one with pidfd_getfd(2) (Linux 5.6), so
// that their options can be read and set. Needs ptrace-attach permission over the process:
// its user (where Yama's ptrace_scope allows it), root, or CAP_SYS_PTRACE.
//
// A descriptor number can be closed and handed out again between the moment /proc listed it
// and the moment it is duplicated: every duplicate is checked against the inode the listing
// (and sock_diag) gave, and a mismatch is never touched.
#pragma once

#include <sys/types.h>

#include "unique_fd.hpp"

namespace kashim::inspect {

// A pidfd for `pid`, or an empty one with errno set (ESRCH: no such process).
UniqueFd open_process(pid_t pid);

// A pidfd for thread `tid` of a process (PIDFD_THREAD, Linux 6.9), through which
// pidfd_getfd reaches the descriptor table that thread uses: the way in when the main thread
// has exited. Empty with errno set otherwise (EINVAL: a kernel without PIDFD_THREAD, where
// a process's pidfd reaches only its main thread's table, which an exited one no longer has).
UniqueFd open_thread(pid_t tid);

// True once the process behind `pidfd` has exited (its pidfd turns readable). A listing
// read from /proc/PID after that may belong to a new process that got the same number.
bool process_exited(int pidfd);

struct Duplicate {
  enum class Outcome {
    kOk,       // `fd` holds the socket the listing named
    kReused,   // the number now holds another file: left alone
    kClosed,   // the number is no longer open
    kExited,   // the process is gone
    kRefused,  // pidfd_getfd refused: `error` says why (EPERM, ENOSYS, ...)
  };
  Outcome outcome = Outcome::kRefused;
  int error = 0;
  UniqueFd fd;
};

// Duplicates descriptor `fd` of the process and checks that it is still socket `inode`.
Duplicate duplicate_socket(int pidfd, int fd, ino_t inode);

}  // namespace kashim::inspect
