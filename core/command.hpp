// What the routes that start COMMAND themselves (kashim-supervise, kashim-cgroup run) share:
// where exec will find it, and the environment COMMAND gets. Not part of libkashim.so.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

namespace kashim {

// What exec would run: COMMAND itself when it names a path, else the first executable match
// in PATH (or COMMAND unchanged when there is none).
std::string resolve_command(const std::string& command);

// COMMAND's environment: this process's own, less the KASHIM_* variables when
// `drop_kashim_env` (the wrapper set them from its options), with the caller's own values
// put back where the wrapper's bash changed them: `setenv` (NAME=VALUE, replacing this
// process's NAME) and `unsetenv` (NAMEs the caller did not have).
std::vector<std::string> command_environment(bool drop_kashim_env,
                                             const std::vector<std::string>& setenv,
                                             const std::vector<std::string>& unsetenv = {});

// The descriptors beyond stdio this process got from its caller. They are COMMAND's: once
// COMMAND has them, a route's own process closes its copies, so that one COMMAND closes is
// closed (a pipe's reader sees its end, a lock is released) as it would be without kashim.
std::vector<int> descriptors_from_caller();

// The signals a process standing in for COMMAND takes over to pass them on: all but those
// that cannot be caught and those a fault of its own raises (glibc's internal ones are never
// in a filled set).
sigset_t signals_to_pass_on();

// exec with `environment`, searching PATH as execvp does. Returns only on failure (errno).
void exec_with_environment(const std::vector<std::string>& argv,
                           const std::vector<std::string>& environment);

}  // namespace kashim
