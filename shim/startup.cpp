// libkashim.so's constructor, paid for by every process it is loaded into, most of which
// never open a socket: it does no more than it must at start.
//   - What fd 2 is now (one fstat): log lines go to stderr only while it is that file.
//   - Whether standard input is a stream socket (one getsockopt): inetd's connection.
//   Both without libc (start_calls.hpp): touching libc is what costs at this point.
//   - One pass over the environment for the two things that must happen at start:
//     systemd's LISTEN_FDS, and the --check report (KASHIM_CHECK).
// Everything else waits for the first hooked call: the configuration, and the real
// functions behind the hooks (hooks.cpp).
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstddef>

#include "inherited.hpp"
#include "runtime.hpp"
#include "start_calls.hpp"

extern char** environ;

namespace kashim {
namespace {

struct AtStart {
  bool check = false;       // KASHIM_CHECK: the report is asked for now
  bool listen_fds = false;  // LISTEN_FDS: systemd handed sockets over
};

// Whether `entry` is NAME=...: compared here, character by character against constants
// the compiler writes into the code, rather than with strncmp (an indirect function libc
// would resolve for us at this point of every process start) or against a string in
// .rodata (a page of the library that nothing else touches at start: its fault cost more
// than the whole scan).
template <std::size_t N>
[[gnu::always_inline]] inline bool names(const char* entry, const char (&name)[N]) {
#pragma GCC unroll 16
  for (std::size_t i = 0; i + 1 < N; ++i) {
    if (entry[i] != name[i]) return false;
  }
  return entry[N - 1] == '=';
}

AtStart scan_environment() {
  AtStart needs;
  if (environ == nullptr) return needs;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const char* text = *entry;
    if (text[0] == 'K' && names(text, "KASHIM_CHECK")) needs.check = true;
    if (text[0] == 'L' && names(text, "LISTEN_FDS")) needs.listen_fds = true;
  }
  return needs;
}

StderrIdentity stderr_now() {
  struct stat file;
  if (start::call(SYS_fstat, STDERR_FILENO, reinterpret_cast<long>(&file)) != 0) return {};
  return {true, file.st_dev, file.st_ino};
}

bool stdin_is_a_stream_socket() {
  int type = 0;
  socklen_t length = sizeof type;
  return start::call(SYS_getsockopt, STDIN_FILENO, SOL_SOCKET, SO_TYPE,
                     reinterpret_cast<long>(&type), reinterpret_cast<long>(&length)) == 0 &&
         type == SOCK_STREAM;
}

__attribute__((constructor)) void start_kashim() {
  note_stderr_at_start(stderr_now());
  const AtStart needs = scan_environment();
  if (needs.check) runtime();
  const bool stdin_stream = stdin_is_a_stream_socket();
  if (needs.listen_fds || stdin_stream) tune_inherited_at_start(needs.listen_fds, stdin_stream);
}

}  // namespace
}  // namespace kashim
