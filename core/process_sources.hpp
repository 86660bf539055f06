// Where every route reads its configuration from: this process's environment, the
// configuration file (KASHIM_CONFIG, else /etc/kashim.conf) and the kernel's sysctl values.
//
// The preload library reads it in the host program; the supervisor, `kashim status/apply`
// and `kashim cgroup` read it in their own process, which the wrapper gave the same KASHIM_*
// variables. One source, one parser, so that every route decides the same way.
#pragma once

#include "config.hpp"
#include "config_file.hpp"
#include "programs.hpp"

namespace kashim {

// The variables kashim reads, taken from the environment in one pass at start rather than
// with a getenv per variable: KASHIM_*, libkeepalive's, and systemd's LISTEN_FDS,
// LISTEN_PID and LISTEN_FDNAMES for the inherited listeners. The values point into the
// environment; use them before the program can change it.
class ProcessEnvironment {
 public:
  // Empty in a privileged (AT_SECURE) process, as secure_getenv() would be.
  static ProcessEnvironment capture();
  // The same from entries ("NAME=value", nullptr-terminated) kept earlier: the preload
  // library keeps them at start (shim/kept_at_start.hpp).
  static ProcessEnvironment capture(const char* const* entries);
  // nullptr when unset. A name the capture does not know is looked up with secure_getenv.
  const char* get(const char* name) const;
  // The environment and /proc/sys/net/ipv4 as Sources (no file, no program).
  Sources sources() const;
  // The configuration file was looked for earlier and is not there: no look again.
  void note_no_file() { no_file_ = true; }
  bool no_file() const { return no_file_; }

  static constexpr const char* kNames[] = {
      "KASHIM_IDLE",     "KASHIM_INTVL",   "KASHIM_CNT",       "KASHIM_USER_TIMEOUT",
      "KASHIM_MODE",     "KASHIM_PEERS",   "KASHIM_DIRECTION", "KASHIM_LOG",
      "KASHIM_LOG_FILE", "KASHIM_DISABLE", "KASHIM_CHECK",     "KASHIM_CHECK_PROGRAM",
      "KASHIM_PROGRAMS", "KASHIM_CONFIG",  "KEEPIDLE",         "KEEPINTVL",
      "KEEPCNT",         "KEEPALIVE",      "LISTEN_FDS",       "LISTEN_PID",
      "LISTEN_FDNAMES"};
  static constexpr int kCount = sizeof kNames / sizeof kNames[0];

 private:
  const char* values_[kCount] = {};
  bool secure_ = false;
  bool no_file_ = false;
};

// This process's names: the basenames of AT_EXECFN and of argv[0] (program_invocation_name).
// No system call.
ProgramNames this_program();

// THE entry point for a process's own configuration (the preload library): the environment
// (one pass), the configuration file (one failed open() when there is none, unless the
// environment says it was found absent already: note_no_file()), and the scope
// (KASHIM_PROGRAMS) decided for this program. With KASHIM_CHECK=1, KASHIM_CHECK_PROGRAM=NAME
// makes the report about NAME instead (kashim --check --program NAME).
void load_configuration(Config* config);
void load_configuration(const ProcessEnvironment& environment, Config* config);
// For a route that acts for another program (the supervisor, for its command): the file's
// sections and the scope are those of `program`.
void load_configuration_for(const ProgramNames& program, Config* config);

// The environment (secure_getenv), the file's global part (its [program ...] sections
// concern other programs) and /proc/sys/net/ipv4, for parse_config(). The file is read by
// the first parse_config() and kept for the process's lifetime, never by a caller that only
// reads a variable or a sysctl. No scope is decided: a route matches Config::programs
// against the program it acts for (match_programs()), or calls load_configuration_for().
Sources process_sources();

// The file's text, read onto the caller's stack.
struct ConfigText {
  char path[kMaxConfigPath] = {};
  char text[kMaxConfigFileBytes] = {};
  std::size_t length = 0;
};

// Reads and parses the configuration file: `configured` is KASHIM_CONFIG's value (nullptr or
// empty: /etc/kashim.conf; /dev/null: no file). A missing default file is no error; a
// missing configured one, an unreadable one, one that is not a regular file, is too large,
// or is writable by others than its owner and root is (`file->error`).
void read_config_file(const char* configured, const ProgramNames* program, ConfigText* text,
                      ConfigFile* file);

}  // namespace kashim
