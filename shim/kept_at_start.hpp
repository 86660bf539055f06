// What the configuration is made of, kept as the process starts: copies of the environment
// entries kashim reads, and whether the configuration file is there.
//
// The configuration itself is parsed at the first hooked call (most processes never make
// one), but from what the process started with: a program may clear its environment or
// write its process title over it before its first socket, and must still get the
// configuration it was started with. Where /etc/kashim.conf is absent at start (the common
// case) the first hooked call opens no configuration file, so a program that chroots,
// changes user or installs a seccomp filter refusing open() before its first socket gets
// neither a file of its new root nor SIGSYS. Where a file is there (or KASHIM_CONFIG names
// one) the first hooked call reads it, as it reads the sysctls for KASHIM_USER_TIMEOUT=auto
// and opens KASHIM_LOG_FILE for each line: such a program meets the file system as it is
// by then (doc/robustness.md).
#pragma once

namespace kashim {

// What the constructor must do beyond keeping the copies.
struct AtStart {
  bool check = false;   // KASHIM_CHECK=1: the report is asked for now
  long listen_fds = 0;  // LISTEN_FDS, when LISTEN_PID is this process: systemd's sockets
};

// The constructor's one pass over `environment` (the one the process was started with) and
// one look for the configuration file, both without libc (core/kernel.hpp).
AtStart keep_at_start(char** environment);

// The kept "NAME=value" entries (the first definition of each name kashim reads),
// nullptr-terminated; nullptr before the constructor ran (a hook called from another
// library's constructor), when the live environment is read.
const char* const* kept_environment();

// /etc/kashim.conf was looked for at start and is not there, and KASHIM_CONFIG names no
// other: the first hooked call does not look again.
bool no_config_file_at_start();

}  // namespace kashim
