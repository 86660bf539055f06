#include "log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "guards.hpp"
#include "text.hpp"

namespace kashim {
namespace {

// fd 2 is written to only while it is the file it was when the shim started. A program
// that closes stderr and gets a socket, or any file of its own, under number 2 must never
// find a byte of ours in it; a daemon that re-points stderr to its own log loses our lines
// there too (KASHIM_LOG_FILE is the way to keep them). An stderr closed at start stays
// closed to the shim.
bool stderr_is_safe(const StderrIdentity& start, struct stat* now) {
  if (!start.open) return false;
  if (fstat(STDERR_FILENO, now) != 0) return false;
  return now->st_dev == start.device && now->st_ino == start.inode;
}

// Writes without ever waiting: a log line that cannot go out at once is dropped. A full
// pipe or a FIFO without a reader (a dead logger) must not stop the program.
void write_now(int fd, const struct stat& file, std::string_view text) {
  if (S_ISREG(file.st_mode)) {
    while (write(fd, text.data(), text.size()) < 0 && errno == EINTR) {
    }
    return;
  }
  // Lines are shorter than PIPE_BUF: a pipe takes one whole or not at all. RWF_NOWAIT says
  // "not at all" without a race; kernels whose pipes lack it (before 5.x) get a poll().
#ifdef RWF_NOWAIT  // not in musl's headers
  iovec piece{const_cast<char*>(text.data()), text.size()};
  if (pwritev2(fd, &piece, 1, -1, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP) return;
#endif
  pollfd ready{fd, POLLOUT, 0};
  if (poll(&ready, 1, 0) == 1 && (ready.revents & POLLOUT) != 0) {
    while (write(fd, text.data(), text.size()) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace

StderrIdentity identify_stderr() {
  ErrnoGuard keep_errno;
  struct stat now;
  StderrIdentity identity;
  if (fstat(STDERR_FILENO, &now) == 0) identity = {true, now.st_dev, now.st_ino};
  return identity;
}

void write_log_line(const Config& config, const StderrIdentity& start, std::string_view line) {
  ErrnoGuard keep_errno;
  NoCancellation no_cancellation;
  FixedText<1024> text;
  text.add("kashim: ").add(line).add("\n");
  struct stat file;
  if (config.log_file[0] != '\0') {
    // Opened per line rather than kept open: a descriptor of the shim's own would change the
    // numbers the program's descriptors get, and programs that close every descriptor (or
    // dup2 over it) would have the shim write into their files. O_NOFOLLOW refuses a link
    // planted at the path; O_CLOEXEC keeps it from children exec'd by another thread;
    // O_NONBLOCK makes a FIFO without a reader fail at once instead of waiting for one.
    int fd =
        open(config.log_file,
             O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0644);
    if (fd >= 0) {
      if (fstat(fd, &file) == 0) write_now(fd, file, text.view());
      close(fd);
    }
  } else if (stderr_is_safe(start, &file)) {
    write_now(STDERR_FILENO, file, text.view());
  }
}

void write_stderr(const StderrIdentity& start, std::string_view text) {
  ErrnoGuard keep_errno;
  NoCancellation no_cancellation;
  struct stat file;
  if (stderr_is_safe(start, &file)) write_now(STDERR_FILENO, file, text);
}

}  // namespace kashim
