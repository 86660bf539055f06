// libkashim.so's constructor, paid for by every process it is loaded into, most of which
// never open a socket: it does no more than it must at start.
//   - What fd 2 is now: log lines go to stderr only while it is that file.
//   - Whether standard input is a stream socket: inetd's connection.
//   Both with newfstatat(fd, "", AT_EMPTY_PATH), the call the loader itself makes to start
//   any program, so a launcher's seccomp list that lets the program start lets kashim's
//   constructor run (fstat or getsockopt may be missing from it: a program killed before its
//   main). SO_TYPE is asked only of a standard input that is a socket. All without libc
//   (core/kernel.hpp): touching libc is what costs at this point.
//   - Which objects are loaded around this one (loaded_objects.hpp: one walk over the
//     loader's list, no symbol table read), so that no hook takes the loader's lock later.
//   - One pass over the environment, keeping copies of what kashim reads, and one look for
//     /etc/kashim.conf (kept_at_start.hpp). Also from the environment: systemd's LISTEN_FDS,
//     and the --check report (KASHIM_CHECK=1).
// Everything else waits for the first hooked call: the configuration's parse, and the real
// functions behind the hooks (hooks.cpp).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "inherited.hpp"
#include "kept_at_start.hpp"
#include "kernel.hpp"
#include "loaded_objects.hpp"
#include "runtime.hpp"

#ifndef __GLIBC__
extern char** environ;
#endif

namespace kashim {
namespace {

// The status of descriptor `fd`: false when it is closed (or the call is refused). The raw
// call rather than kernel::fstat, which sets errno on failure: at start that is a first call
// into libc (__errno_location), and the program's errno is not ours to change.
bool status_of(int fd, struct stat* file) {
#if defined(__x86_64__) || defined(__aarch64__)
  // The kernel's struct stat is libc's here; elsewhere (i386's old stat) libc translates.
  // The empty path lives in writable data, on a page the loader has touched already.
  static char empty_path[1];
  return kernel::raw(SYS_newfstatat, fd, reinterpret_cast<long>(empty_path),
                     reinterpret_cast<long>(file), AT_EMPTY_PATH) == 0;
#else
  return fstat(fd, file) == 0;
#endif
}

StderrIdentity stderr_now() {
  struct stat file;
  if (!status_of(STDERR_FILENO, &file)) return {};
  return {true, file.st_dev, file.st_ino};
}

bool stdin_is_a_stream_socket() {
  struct stat file;
  if (!status_of(STDIN_FILENO, &file) || !S_ISSOCK(file.st_mode)) return false;
  int type = 0;
  socklen_t length = sizeof type;
  return kernel::raw(SYS_getsockopt, STDIN_FILENO, SOL_SOCKET, SO_TYPE,
                     reinterpret_cast<long>(&type), reinterpret_cast<long>(&length)) == 0 &&
         type == SOCK_STREAM;
}

// glibc hands every constructor the environment the process was started with, even when an
// earlier constructor has cleared or replaced `environ` since; musl hands none.
#ifdef __GLIBC__
__attribute__((constructor)) void start_kashim(int argc, char** argv, char** environment) {
#else
__attribute__((constructor)) void start_kashim() {
  const int argc = 0;
  char** argv = nullptr;
  char** environment = environ;
#endif
  note_loaded_objects(argc, argv, environment);
  note_stderr_at_start(stderr_now());
  const AtStart needs = keep_at_start(environment);
  if (needs.check) runtime();
  const bool stdin_stream = stdin_is_a_stream_socket();
  if (needs.listen_fds > 0 || stdin_stream) tune_inherited_at_start(needs.listen_fds, stdin_stream);
}

}  // namespace
}  // namespace kashim
