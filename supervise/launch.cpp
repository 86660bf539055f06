#include "launch.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "accept.hpp"
#include "command.hpp"
#include "filter.hpp"
#include "log_line.hpp"

namespace kashim::supervise {

namespace {
constexpr unsigned long kWaitKillableRecv = 1UL << 5;  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
}  // namespace
namespace {

// What the child tells the supervisor before it execs.
struct ChildReport {
  enum Stage : int { kReady, kListening, kNoNewPrivsFailed, kSeccompFailed } stage = kReady;
  int error = 0;
  int listener = -1;  // the child's number for it, taken with pidfd_getfd
};

// What the supervisor tells the child.
enum Command : char { kExec = 'G', kExecUntuned = 'U', kGiveUp = 'X', kProbed = 'P' };

bool send_all(int fd, const void* data, std::size_t size) {
  ssize_t sent;
  do {
    sent = send(fd, data, size, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(size);
}

bool receive_all(int fd, void* data, std::size_t size) {
  ssize_t got;
  do {
    got = recv(fd, data, size, 0);
  } while (got < 0 && errno == EINTR);
  return got == static_cast<ssize_t>(size);
}

std::string errno_text(int error) {
  LogLine line;
  add_errno(&line, error);
  return std::string(line.view());
}

// The id of a process's pidfd (its inode on pidfs, Linux 6.9), or "" when there is none.
std::string pidfd_id(pid_t pid) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  struct stat status;
  const bool known = pidfd >= 0 && fstat(pidfd, &status) == 0;
  if (pidfd >= 0) close(pidfd);
  return known ? std::to_string(status.st_ino) : "";
}

// systemd names the process it started, which is the supervisor, in LISTEN_PID and
// LISTEN_PIDFDID (socket activation) and WATCHDOG_PID; libsystemd in COMMAND, its child,
// checks them against COMMAND itself (sd_listen_fds, sd_watchdog_enabled). Those naming the
// supervisor name COMMAND instead, as they would have without kashim.
std::string systemd_variable_for_command(const std::string& entry, pid_t supervisor) {
  const std::size_t equals = entry.find('=');
  if (equals == std::string::npos) return entry;
  const std::string_view name(entry.data(), equals), value(entry.data() + equals + 1);
  if ((name == "LISTEN_PID" || name == "WATCHDOG_PID") && value == std::to_string(supervisor)) {
    return std::string(name) + "=" + std::to_string(getpid());
  }
  if (name == "LISTEN_PIDFDID" && !value.empty() && value == pidfd_id(supervisor)) {
    return std::string(name) + "=" + pidfd_id(getpid());
  }
  return entry;
}

[[noreturn]] void exec_command(const LaunchRequest& request, const ProcessState& state,
                               pid_t supervisor) {
  std::vector<char*> argv, environment;
  for (const std::string& word : request.argv) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> entries;
  entries.reserve(request.environment.size());
  for (const std::string& entry : request.environment) {
    entries.push_back(systemd_variable_for_command(entry, supervisor));
    environment.push_back(const_cast<char*>(entries.back().c_str()));
  }
  environment.push_back(nullptr);
  sigaction(SIGPIPE, &state.original_sigpipe, nullptr);
  sigaction(SIGCHLD, &state.original_sigchld, nullptr);
  sigprocmask(SIG_SETMASK, &state.original_mask, nullptr);
  give_kept_across_exec(state.kept);
  execvpe(argv[0], argv.data(), environment.data());
  const int error = errno;
  std::fprintf(stderr, "kashim: %s: %s\n", argv[0], std::strerror(error));
  _exit(error == ENOENT ? 127 : 126);
}

// The child, between fork and exec. Never returns.
[[noreturn]] void run_child(const LaunchRequest& request, Tuner& tuner, const ProcessState& state,
                            int channel, pid_t supervisor) {
  if (state.command_own_group) setpgid(0, 0);
  // Forked again (a first start given up) after the supervisor left its caller's group.
  if (state.supervisor_leaves_group) setpgid(0, state.own_group);
  // Should the supervisor die, its notifications would fail with ENOSYS: COMMAND goes with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != supervisor) _exit(125);
  ChildReport report;
  int listener = -1;
  if (request.filter) {
    tuner.tune_inherited_sockets();  // before the filter, which would notify these calls
    const bool accepts_notified = request.notify_accepts;
    std::vector<sock_filter> code = notifying_filter(accepts_notified);
    sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
    // SPEC_ALLOW: the filter is no sandbox. Without it, kernels before 5.16 (whose default
    // is spec_store_bypass_disable=seccomp, spectre_v2_user=seccomp) force speculation
    // mitigations on COMMAND: slower, and shown in its /proc/PID/status.
    // WAIT_KILLABLE_RECV (Linux 5.19): once the supervisor has taken a notification, only a
    // fatal signal ends the program's wait for the answer, so that a handler installed
    // without SA_RESTART does not make a connect, listen or setsockopt fail with EINTR, which
    // they never do without kashim (a signal before the supervisor takes it still can). Not
    // with accepts notified: a signal must end a blocking accept the supervisor waits in.
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                          (accepts_notified ? 0 : kWaitKillableRecv);
    auto install = [&program, &flags] {
      int fd = static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program));
      if (fd < 0 && errno == EINVAL && (flags & kWaitKillableRecv) != 0) {
        flags &= ~kWaitKillableRecv;  // a kernel before 5.19
        fd = static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program));
      }
      return fd;
    };
    // The kernel wants no_new_privs only from a caller without CAP_SYS_ADMIN: a supervisor
    // running as root leaves set-user-ID programs and file capabilities working in COMMAND's
    // tree (a service that drops to a user and runs ping, say), as without kashim.
    listener = install();
    if (listener < 0 && errno == EACCES) {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        report = {ChildReport::kNoNewPrivsFailed, errno, -1};
      } else {
        listener = install();
      }
    }
    if (report.stage != ChildReport::kNoNewPrivsFailed) {
      report = listener < 0 ? ChildReport{ChildReport::kSeccompFailed, errno, -1}
                            : ChildReport{ChildReport::kListening, 0, listener};
    }
  }
  char command = kGiveUp;
  if (!send_all(channel, &report, sizeof report) || !receive_all(channel, &command, 1)) _exit(125);
  switch (command) {
    case kExec:
      if (listener >= 0) close(listener);
      exec_command(request, state, supervisor);
    case kExecUntuned:
      if (listener >= 0) _exit(125);  // a filter without a supervisor: never
      exec_command(request, state, supervisor);
    case kProbed:
      _exit(0);
    default:
      _exit(125);
  }
}

void reap(pid_t child) {
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool is_pipe(int fd) {
  struct stat status;
  return fstat(fd, &status) == 0 && S_ISFIFO(status.st_mode);
}

// Gives the terminal's foreground to COMMAND's process group when the supervisor's group
// holds it, so that COMMAND reads the terminal and gets ^C, ^Z and SIGWINCH as it would
// without kashim, while the supervisor stays out of their way.
void hand_terminal(pid_t child, ProcessState* state) {
  if (!state->command_own_group || tcgetpgrp(state->terminal) != state->own_group) return;
  tcsetpgrp(state->terminal, child);  // SIGTTOU is blocked
}

}  // namespace

sigset_t supervisor_signals() {
  // Every signal sent to the supervisor is COMMAND's (forwarded), or its own business (SIGCHLD,
  // SIGCONT, terminal stops); but SIGPIPE, which it ignores, and SIGRTMIN, which interrupts
  // its accept threads (accept_waits.cpp).
  sigset_t set = signals_to_pass_on();
  sigdelset(&set, SIGPIPE);
  sigdelset(&set, SIGRTMIN);
  return set;
}

void take_over_signals(ProcessState* state) {
  sigset_t set = supervisor_signals();
  sigprocmask(SIG_BLOCK, &set, &state->original_mask);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &state->original_sigpipe);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &default_action, &state->original_sigchld);
  state->own_group = getpgrp();
  state->terminal = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  const bool leads_group = state->own_group == getpid();
  state->command_own_group =
      leads_group && (state->terminal < 0 || (!is_pipe(STDIN_FILENO) && !is_pipe(STDOUT_FILENO)));
  state->supervisor_leaves_group = state->terminal < 0 && !leads_group;
}

Launched launch(const LaunchRequest& request, Tuner& tuner, ProcessState* state) {
  Launched launched;
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    launched.unavailable = "socketpair failed, " + errno_text(errno);
    return launched;
  }
  UniqueFd ours(channel[0]);
  const pid_t supervisor = getpid();
  const pid_t child = fork();
  if (child < 0) {
    close(channel[1]);
    launched.unavailable = "fork failed, " + errno_text(errno);
    return launched;
  }
  if (child == 0) {
    ours = UniqueFd();
    run_child(request, tuner, *state, channel[1], supervisor);
  }
  close(channel[1]);
  if (state->command_own_group) setpgid(child, child);  // as the child does: whichever runs first
  // The child was forked in the caller's group (a signal sent to the group before this
  // reaches both, and COMMAND then twice: once forwarded).
  if (state->supervisor_leaves_group && !request.probe_only) setpgid(0, 0);
  state->child_group = state->command_own_group ? child : state->own_group;
  launched.child = child;

  ChildReport report;
  if (!receive_all(ours.get(), &report, sizeof report)) {
    reap(child);
    launched.child = -1;
    launched.unavailable = "the child process ended before it could start COMMAND";
    return launched;
  }
  if (report.stage == ChildReport::kListening) {
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
    if (!pidfd) {
      launched.unavailable = "pidfd_open failed, " + errno_text(errno) + " (Linux 5.3 or later)";
    } else {
      launched.listener =
          UniqueFd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), report.listener, 0)));
      launched.install_supported =
          launched.listener && install_and_answer_supported(launched.listener.get());
      if (launched.listener) wake_on_the_callers_cpu(launched.listener.get());
      if (!launched.listener) {
        launched.unavailable = "pidfd_getfd failed, " + errno_text(errno) +
                               (errno == ENOSYS ? " (Linux 5.6 or later)"
                                                : " (ptrace access to the child is refused)");
      }
    }
  } else if (report.stage == ChildReport::kNoNewPrivsFailed) {
    launched.unavailable = "prctl(PR_SET_NO_NEW_PRIVS) failed, " + errno_text(report.error);
  } else if (report.stage == ChildReport::kSeccompFailed) {
    launched.another_listener = report.error == EBUSY;
    launched.unavailable = "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER) failed, " +
                           errno_text(report.error) +
                           (report.error == EBUSY    ? " (another supervisor's filter is in place)"
                            : report.error == EINVAL ? " (Linux 5.0 or later)"
                                                     : " (refused by a security policy)");
  }

  Command command = kExec;
  if (request.probe_only) {
    command = kProbed;
  } else if (!launched.unavailable.empty()) {
    // A child with a filter but no supervisor would see its calls fail: it must not run.
    command = request.strict || report.stage == ChildReport::kListening ? kGiveUp : kExecUntuned;
  }
  if (command == kExec || command == kExecUntuned) hand_terminal(child, state);
  if (!send_all(ours.get(), &command, 1) || command == kGiveUp || command == kProbed) {
    reap(child);
    launched.child = -1;
    launched.listener = UniqueFd();
  }
  return launched;
}

}  // namespace kashim::supervise
