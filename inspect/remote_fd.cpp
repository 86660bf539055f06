#include "remote_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace kashim::inspect {

// Through syscall(): glibc has had wrappers only since 2.36, and older headers lack them.
UniqueFd open_process(pid_t pid) {
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

UniqueFd open_thread(pid_t tid) {
  constexpr unsigned kPidfdThread = O_EXCL;  // PIDFD_THREAD (linux/pidfd.h, Linux 6.9)
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, tid, kPidfdThread)));
}

bool process_exited(int pidfd) {
  pollfd entry{pidfd, POLLIN, 0};
  return poll(&entry, 1, 0) == 1 && (entry.revents & POLLIN) != 0;
}

Duplicate duplicate_socket(int pidfd, int fd, ino_t inode) {
  Duplicate result;
  result.fd.reset(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0)));
  if (!result.fd) {
    result.error = errno;
    switch (result.error) {
      case EBADF:
        result.outcome = Duplicate::Outcome::kClosed;
        break;
      case ESRCH:
        result.outcome = Duplicate::Outcome::kExited;
        break;
      default:
        result.outcome = Duplicate::Outcome::kRefused;
        break;
    }
    return result;
  }
  struct stat status {};
  if (fstat(result.fd.get(), &status) != 0 || !S_ISSOCK(status.st_mode) || status.st_ino != inode) {
    result.fd.reset();
    result.outcome = Duplicate::Outcome::kReused;
    return result;
  }
  result.outcome = Duplicate::Outcome::kOk;
  return result;
}

}  // namespace kashim::inspect
