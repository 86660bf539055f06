// Reading the configuration file: the only I/O behind config_file.hpp's pure parser.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "in_place.hpp"
#include "kernel.hpp"
#include "process_sources.hpp"

namespace kashim {
namespace {

std::string_view open_error_name(int error) {
  switch (error) {
    case ENOENT:
      return "no such file";
    case EACCES:
      return "permission denied";
    case ENOTDIR:
      return "a component of the path is not a directory";
    case ELOOP:
      return "too many symbolic links";
    default:
      return "";
  }
}

// Why a file must not be trusted, or empty. Its owner (who chose to write it) and root may
// write to it; anyone else who could would tune every program that reads it. So the owner is
// root or the user the reading program runs as: a file of another user's (nobody's, a
// service's) could be rewritten by any process running as that user.
void check_permissions(const struct stat& status, ConfigFile* file) {
  const auto reader = status.st_uid == 0 ? 0 : static_cast<uid_t>(kernel::raw(SYS_geteuid));
  if (status.st_uid != reader) {
    file->error.add(file->path).add(": refused, it belongs to user ");
    file->error.add(static_cast<std::int64_t>(status.st_uid));
    file->error.add(" (accepted: a file of root's, or of the user the program runs as, ");
    file->error.add(static_cast<std::int64_t>(reader)).add(")");
    return;
  }
  bool group_writable = (status.st_mode & S_IWGRP) != 0 && status.st_gid != 0;
  if ((status.st_mode & S_IWOTH) == 0 && !group_writable) return;
  file->error.add(file->path).add(": refused, it is writable by ");
  file->error.add(group_writable ? "its group" : "others").add(" (mode ");
  for (int shift = 9; shift >= 0; shift -= 3) {
    file->error.add(static_cast<int>((status.st_mode >> shift) & 7));
  }
  file->error.add("; accepted: writable only by its owner and root, e.g. chmod go-w)");
}

void read_text(int fd, ConfigText* text, ConfigFile* file) {
  struct stat status;
  if (kernel::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    file->error.add(file->path).add(": is not a regular file (accepted: a regular file)");
    return;
  }
  check_permissions(status, file);
  if (!file->error.empty()) return;
  std::size_t capacity = sizeof text->text;
  while (text->length < capacity) {
    ssize_t count = kernel::read(fd, text->text + text->length, capacity - text->length);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      file->short_of_resources = errno == ENOMEM;
      file->error.add(file->path).add(": cannot be read (errno ").add(errno).add(")");
      return;
    }
    if (count == 0) break;
    text->length += static_cast<std::size_t>(count);
    if (text->length == static_cast<std::size_t>(status.st_size)) break;  // no second read
  }
  if (text->length == capacity) {
    file->error.add(file->path).add(": is too large (accepted: at most ");
    file->error.add(static_cast<std::int64_t>(capacity - 1)).add(" bytes)");
    return;
  }
  file->present = true;
}

}  // namespace

void read_config_file(const char* configured, const ProgramNames* program, ConfigText* text,
                      ConfigFile* file) {
  reset_in_place(file);
  text->length = 0;
  std::string_view path = configured != nullptr ? configured : "";
  bool chosen = !path.empty();
  if (!chosen) path = kDefaultConfigPath;
  if (path == "/dev/null") return;  // the documented way to read no file
  if (path.front() != '/' || path.size() >= sizeof text->path) {
    file->error.add("KASHIM_CONFIG=").add_quoted_value(path);
    file->error.add(path.front() != '/' ? " is not an absolute path (accepted: a path starting "
                                          "with /, or /dev/null for no file)"
                                        : " is too long (accepted: a path of at most ");
    if (path.front() == '/') {
      file->error.add(static_cast<std::int64_t>(sizeof text->path - 1)).add(" bytes)");
    }
    return;
  }
  std::memcpy(text->path, path.data(), path.size());
  text->path[path.size()] = '\0';
  file->path = text->path;
  // Non-blocking: a FIFO named by mistake must not hang the program at start.
  int fd = kernel::open(text->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int error = errno;
    if (error == ENOENT && !chosen) return;  // no file: the environment alone
    file->short_of_resources = error == EMFILE || error == ENFILE || error == ENOMEM;
    file->error.add(file->path).add(": cannot be opened (");
    std::string_view name = open_error_name(error);
    if (name.empty()) {
      file->error.add("errno ").add(error);
    } else {
      file->error.add(name);
    }
    file->error.add(chosen ? "; accepted: KASHIM_CONFIG naming a readable file, or /dev/null)"
                           : "; accepted: a file readable by every program, or none)");
    return;
  }
  read_text(fd, text, file);
  kernel::close(fd);
  if (file->error.empty()) {
    parse_config_file(std::string_view(text->text, text->length), program, file);
  }
}

}  // namespace kashim
