// libkashim.so's constructor, paid for by every process it is loaded into, most of which
// never open a socket: it does no more than it must at start.
//   - What fd 2 is now (one fstat): log lines go to stderr only while it is that file.
//   - Whether standard input is a stream socket (one getsockopt): inetd's connection.
//   Both without libc (start_calls.hpp): touching libc is what costs at this point.
//   - Which objects are loaded around this one (loaded_objects.hpp: one walk over the
//     loader's list, no symbol table read), so that no hook takes the loader's lock later.
//   - One pass over the environment for the two things that must happen at start:
//     systemd's LISTEN_FDS, and the --check report (KASHIM_CHECK).
// Everything else waits for the first hooked call: the configuration, and the real
// functions behind the hooks (hooks.cpp).
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstddef>

#include "inherited.hpp"
#include "loaded_objects.hpp"
#include "runtime.hpp"
#include "start_calls.hpp"
#include "start_text.hpp"

extern char** environ;

namespace kashim {
namespace {

struct AtStart {
  bool check = false;       // KASHIM_CHECK: the report is asked for now
  bool listen_fds = false;  // LISTEN_FDS: systemd handed sockets over
};

// Whether `entry` is NAME=... (start_text.hpp: no libc, no .rodata).
template <std::size_t N>
[[gnu::always_inline]] inline bool names(const char* entry, const char (&name)[N]) {
  return start::begins_with(entry, name) && entry[N - 1] == '=';
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
  note_loaded_objects();
  note_stderr_at_start(stderr_now());
  const AtStart needs = scan_environment();
  if (needs.check) runtime();
  const bool stdin_stream = stdin_is_a_stream_socket();
  if (needs.listen_fds || stdin_stream) tune_inherited_at_start(needs.listen_fds, stdin_stream);
}

}  // namespace
}  // namespace kashim
