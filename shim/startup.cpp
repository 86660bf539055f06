// libkashim.so's constructor, paid for by every process it is loaded into, most of which
// never open a socket: it does no more than it must at start.
//   - What fd 2 is now (one fstat): log lines go to stderr only while it is that file.
//   - Whether standard input is a stream socket (one getsockopt): inetd's connection.
//   - One pass over the environment for the two things that must happen at start:
//     systemd's LISTEN_FDS, and the --check report (KASHIM_CHECK).
// Everything else, the configuration first of all, waits for the first hooked call.
#include <unistd.h>

#include <cstring>

#include "inherited.hpp"
#include "runtime.hpp"

extern char** environ;

namespace kashim {
namespace {

struct AtStart {
  bool check = false;       // KASHIM_CHECK: the report is asked for now
  bool listen_fds = false;  // LISTEN_FDS: systemd handed sockets over
};

AtStart scan_environment() {
  AtStart needs;
  if (environ == nullptr) return needs;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const char* text = *entry;
    if (text[0] == 'K' && std::strncmp(text, "KASHIM_CHECK=", 13) == 0) needs.check = true;
    if (text[0] == 'L' && std::strncmp(text, "LISTEN_FDS=", 11) == 0) needs.listen_fds = true;
  }
  return needs;
}

__attribute__((constructor)) void start_kashim() {
  note_stderr_at_start();
  const AtStart needs = scan_environment();
  if (needs.check) runtime();
  tune_inherited_at_start(needs.listen_fds);
}

}  // namespace
}  // namespace kashim
