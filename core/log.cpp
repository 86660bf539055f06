#include "log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "text.hpp"

namespace kashim {
namespace {

// fd 2 is written to only while it is the file it was when the shim started. A program
// that closes stderr and gets a socket, or any file of its own, under number 2 must never
// find a byte of ours in it; a daemon that re-points stderr to its own log loses our lines
// there too (KASHIM_LOG_FILE is the way to keep them). An stderr closed at start stays
// closed to the shim.
bool stderr_is_safe(const StderrIdentity& start) {
  if (!start.open) return false;
  struct stat now;
  if (fstat(STDERR_FILENO, &now) != 0) return false;
  return now.st_dev == start.device && now.st_ino == start.inode;
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t written = write(fd, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

StderrIdentity identify_stderr() {
  const int saved_errno = errno;
  struct stat now;
  StderrIdentity identity;
  if (fstat(STDERR_FILENO, &now) == 0) identity = {true, now.st_dev, now.st_ino};
  errno = saved_errno;
  return identity;
}

void write_log_line(const Config& config, const StderrIdentity& start, std::string_view line) {
  const int saved_errno = errno;
  FixedText<1024> text;
  text.add("kashim: ").add(line).add("\n");
  if (config.log_file[0] != '\0') {
    // Opened per line rather than kept open: a descriptor of the shim's own would change the
    // numbers the program's descriptors get, and programs that close every descriptor (or
    // dup2 over it) would have the shim write into their files. O_NOFOLLOW refuses a link
    // planted at the path; O_CLOEXEC keeps it from children exec'd by another thread.
    int fd = open(config.log_file,
                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (fd >= 0) {
      write_all(fd, text.view());
      close(fd);
    }
  } else if (stderr_is_safe(start)) {
    write_all(STDERR_FILENO, text.view());
  }
  errno = saved_errno;
}

void write_stderr(const StderrIdentity& start, std::string_view text) {
  const int saved_errno = errno;
  if (stderr_is_safe(start)) write_all(STDERR_FILENO, text);
  errno = saved_errno;
}

}  // namespace kashim
