// What the configuration is made of, kept as the process starts: copies of the environment
// entries kashim reads, and whether the configuration file is there.
//
// The configuration itself is parsed at the first hooked call (most processes never make
// one), but from what the process started with: a program may clear its environment,
// overwrite it with its process title, chroot, change user or install a seccomp filter that
// refuses open() before its first socket, and must then get the configuration it was started
// with, not another one, an error line or SIGSYS. A configuration that needs the file system
// (a file is there, or KASHIM_USER_TIMEOUT=auto reads the sysctls) is therefore parsed by the
// constructor; without one, the first hooked call touches no file.
#pragma once

namespace kashim {

// What the constructor must do beyond keeping the copies.
struct AtStart {
  bool check = false;       // KASHIM_CHECK=1: the report is asked for now
  bool listen_fds = false;  // LISTEN_FDS: systemd handed sockets over
  bool parse_now = false;   // the configuration needs the file system: parse it now
};

// The constructor's one pass over the environment and one look for the configuration file,
// both without libc (start_calls.hpp).
AtStart keep_at_start();

// The kept "NAME=value" entries, nullptr-terminated; nullptr before the constructor ran (a
// hook called from another library's constructor), when the live environment is read.
const char* const* kept_environment();

// The file was looked for at start and is not there (the first hooked call does not look
// again).
bool no_config_file_at_start();

}  // namespace kashim
