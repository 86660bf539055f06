#include "log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <iterator>

#include "guards.hpp"
#include "kernel.hpp"
#include "text.hpp"

namespace kashim {
namespace {

// fd 2 is written to only while it is the file it was when the shim started. A program
// that closes stderr and gets a socket, or any file of its own, under number 2 must never
// find a byte of ours in it; a daemon that re-points stderr to its own log loses our lines
// there too (KASHIM_LOG_FILE is the way to keep them). An stderr closed at start stays
// closed to the shim.
// Nor is fd 2 written to when it is a network connection: inetd, xinetd and systemd's
// StandardInput=socket hand a service its client as stdin, stdout and stderr, and our lines
// would reach the client inside the service's protocol. A Unix socket (journald's) is a log.
bool stderr_is_safe(const StderrIdentity& start, struct stat* now) {
  if (!start.open) return false;
  if (kernel::fstat(STDERR_FILENO, now) != 0) return false;
  if (now->st_dev != start.device || now->st_ino != start.inode) return false;
  if (!S_ISSOCK(now->st_mode)) return true;
  int domain = 0;
  socklen_t length = sizeof domain;
  return kernel::getsockopt(STDERR_FILENO, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 &&
         domain != AF_INET && domain != AF_INET6;
}

// While the shim writes a line every signal is held (OwnWork, guards.hpp), among
// them those a write raises in the thread that makes it: SIGPIPE (a pipe or socket without a
// reader), SIGXFSZ (a file at its RLIMIT_FSIZE) and SIGTTOU (the terminal of a background
// job, with tostop; held, the write goes to the terminal instead of stopping the job).
// Without kashim the program made no such write, so none may reach it: one the write raised
// is taken back before the mask is restored — unless one was pending already, which is the
// program's own and the same signal (standard signals do not queue).
class WriteSignalsHeld {
 public:
  WriteSignalsHeld() {
    if (own_work_.signals_held() && kernel::pending_signals(&pending_before_) != 0) {
      for (int number : kRaised) pending_before_.add(number);  // unknown: take none back
    }
  }
  // `error`: the write's errno, or 0.
  void take_back_raised_by(int error) {
    if (!own_work_.signals_held()) return;
    for (std::size_t i = 0; i < std::size(kRaised); ++i) {
      if (error != kRaisedBy[i] || pending_before_.has(kRaised[i])) continue;
      kernel::SignalSet one;
      one.add(kRaised[i]);
      while (kernel::take_pending_signal(&one) < 0 && errno == EINTR) {
      }
    }
  }

 private:
  static constexpr int kRaised[] = {SIGPIPE, SIGXFSZ};
  static constexpr int kRaisedBy[] = {EPIPE, EFBIG};
  OwnWork own_work_;  // also cancellation off: open(), write() and close() are its points
  kernel::SignalSet pending_before_;
};

// "kashim: ", the line and its newline, written in one call: a pipe takes them whole (lines
// are shorter than PIPE_BUF), a file opened O_APPEND at once, and no copy of the line is
// made on the stack of the hook that logs.
struct LinePieces {
  explicit LinePieces(std::string_view line)
      : pieces{{const_cast<char*>(kPrefix.data()), kPrefix.size()},
               {const_cast<char*>(line.data()), line.size()},
               {const_cast<char*>(kNewline.data()), kNewline.size()}} {}
  static constexpr std::string_view kPrefix = "kashim: ";
  static constexpr std::string_view kNewline = "\n";
  iovec pieces[3];
};

// One write, retried on EINTR, that raises no signal in the program.
void write_held(WriteSignalsHeld* held, int fd, const iovec* pieces, int count) {
  ssize_t written;
  while ((written = kernel::writev(fd, pieces, count)) < 0 && errno == EINTR) {
  }
  held->take_back_raised_by(written < 0 ? errno : 0);
}

// Writes without ever waiting: a log line that cannot go out at once is dropped. A full
// pipe or a FIFO without a reader (a dead logger) must not stop the program.
void write_now(WriteSignalsHeld* held, int fd, const struct stat& file, const iovec* pieces,
               int count) {
  if (S_ISREG(file.st_mode)) {
    write_held(held, fd, pieces, count);
    return;
  }
  // Lines are shorter than PIPE_BUF: a pipe takes one whole or not at all. RWF_NOWAIT says
  // "not at all" without a race; kernels whose pipes lack it (before 5.x) get a poll().
#ifdef RWF_NOWAIT  // not in musl's headers
  {
    const bool written = kernel::pwritev2(fd, pieces, count, RWF_NOWAIT) >= 0;
    const int error = written ? 0 : errno;
    held->take_back_raised_by(error);
    if (error != EOPNOTSUPP) return;
  }
#endif
  pollfd ready{fd, POLLOUT, 0};
  if (kernel::poll_now(&ready, 1) == 1 && (ready.revents & POLLOUT) != 0) {
    write_held(held, fd, pieces, count);
  }
}

}  // namespace

StderrIdentity identify_stderr() {
  ErrnoGuard keep_errno;
  struct stat now;
  StderrIdentity identity;
  if (kernel::fstat(STDERR_FILENO, &now) == 0) identity = {true, now.st_dev, now.st_ino};
  return identity;
}

void write_log_line(const Config& config, const StderrIdentity& start, std::string_view line) {
  ErrnoGuard keep_errno;
  WriteSignalsHeld held;
  const LinePieces text(line);
  struct stat file;
  if (config.log_file[0] != '\0') {
    // Opened per line rather than kept open: a descriptor of the shim's own would change the
    // numbers the program's descriptors get, and programs that close every descriptor (or
    // dup2 over it) would have the shim write into their files. O_NOFOLLOW refuses a link
    // planted at the path; O_CLOEXEC keeps it from children exec'd by another thread;
    // O_NONBLOCK makes a FIFO without a reader fail at once instead of waiting for one.
    int fd = kernel::open(
        config.log_file,
        O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0644);
    if (fd >= 0) {
      if (kernel::fstat(fd, &file) == 0) write_now(&held, fd, file, text.pieces, 3);
      kernel::close(fd);
    }
  } else if (stderr_is_safe(start, &file)) {
    write_now(&held, STDERR_FILENO, file, text.pieces, 3);
  }
}

void write_stderr(const StderrIdentity& start, std::string_view text) {
  ErrnoGuard keep_errno;
  WriteSignalsHeld held;
  struct stat file;
  const iovec whole{const_cast<char*>(text.data()), text.size()};
  if (stderr_is_safe(start, &file)) write_now(&held, STDERR_FILENO, file, &whole, 1);
}

}  // namespace kashim
