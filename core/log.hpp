// Where the shim's messages go, written so that the host program cannot tell.
//
// One write() per line, errno kept, no cancellation point, never a wait, no stdio and no
// allocation, so a hook can log from any thread or signal handler. A line that cannot go
// out at once (a full pipe, a FIFO nobody reads) is dropped. Nothing is ever written to
// stdout.
#pragma once

#include <sys/types.h>

#include <string_view>

#include "config.hpp"

namespace kashim {

// What fd 2 was when the shim started. A program may close its stderr and get a socket as
// fd 2 later on; a log line must never reach that socket.
struct StderrIdentity {
  bool open = false;
  dev_t device = 0;
  ino_t inode = 0;
};

StderrIdentity identify_stderr();

// Appends "kashim: <line>\n" to KASHIM_LOG_FILE, or writes it to stderr while fd 2 is still
// safe to write to. Failures are ignored: a log that cannot be written costs the program
// nothing.
void write_log_line(const Config& config, const StderrIdentity& start, std::string_view line);

// For the --check report, which is asked for and always goes to stderr.
void write_stderr(const StderrIdentity& start, std::string_view text);

}  // namespace kashim
