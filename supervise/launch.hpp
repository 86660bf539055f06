// Starting COMMAND under the filter: a child that sets no_new_privs, installs the filter,
// hands its notification descriptor to the supervisor (which takes it with pidfd_getfd, the
// call every notification needs, so a kernel or policy that refuses it is found before
// COMMAND starts) and execs COMMAND. When the route cannot run here, COMMAND runs untuned
// instead, or with --strict not at all.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "kept_across_exec.hpp"
#include "target.hpp"
#include "tuner.hpp"

namespace kashim::supervise {

struct LaunchRequest {
  std::vector<std::string> argv;         // COMMAND and its arguments
  std::vector<std::string> environment;  // COMMAND's environment, NAME=VALUE
  bool strict = false;                   // no untuned run when the route cannot run
  bool filter = true;                    // false: the route was already found unusable
  bool probe_only = false;               // --available: the child exits instead of exec
  bool notify_accepts = false;           // accept and accept4 reach the supervisor (accept.hpp)
};

// What the supervisor keeps from the start, to give back to COMMAND and to itself.
struct ProcessState {
  sigset_t original_mask;                // COMMAND starts with it, whatever we block
  struct sigaction original_sigpipe {};  // the supervisor ignores SIGPIPE; COMMAND must not
  // An inherited SIGCHLD = SIG_IGN would have the kernel reap COMMAND before the supervisor
  // learns its status: the supervisor takes the default, COMMAND gets what it inherited.
  struct sigaction original_sigchld {};
  int terminal = -1;  // /dev/tty when there is one
  pid_t own_group = 0;
  // COMMAND gets a process group of its own when the supervisor leads its group, so that a
  // signal to the supervisor's group (its job) reaches COMMAND once (forwarded), and on a
  // terminal (neither stdin nor stdout a pipe) the terminal while it runs. On a terminal
  // otherwise (a pipeline, a script without job control) it stays in the supervisor's
  // group, which others share: they keep the terminal.
  bool command_own_group = false;
  // Without a terminal, a supervisor that does not lead its group (started from a script,
  // cron, CI) leaves the group to COMMAND and takes one of its own once COMMAND is forked:
  // COMMAND runs in its caller's group as without kashim (setsid() works for it, a signal
  // to the group reaches it and its children, once), and the supervisor gets only what is
  // sent to it, which it forwards.
  bool supervisor_leaves_group = false;
  pid_t child_group = 0;  // COMMAND's process group: its pid, or own_group
  KeptAcrossExec kept;    // COMMAND's, set again just before its exec
};

struct Launched {
  pid_t child = -1;   // -1: not started (launch failed, or --strict refused)
  UniqueFd listener;  // invalid: COMMAND runs untuned
  // The kernel installs a descriptor in COMMAND while answering (accept.hpp).
  bool install_supported = false;
  std::string unavailable;  // why the route could not run, when it could not
  // The kernel refused a second listener (EBUSY): a filter in this process's chain already
  // notifies someone, such as an enclosing kashim-supervise or a container's seccomp agent.
  bool another_listener = false;
};

// The signals the supervisor takes over while COMMAND runs (read through a signalfd): all
// but a few.
sigset_t supervisor_signals();

// Blocks supervisor_signals(), ignores SIGPIPE and takes SIGCHLD's default action, saving
// what COMMAND gets back.
void take_over_signals(ProcessState* state);

// Forks and starts COMMAND (in a process group of its own, given the terminal's foreground
// when the supervisor held it). `tuner` tunes inherited sockets in the child before exec.
Launched launch(const LaunchRequest& request, Tuner& tuner, ProcessState* state);

}  // namespace kashim::supervise
