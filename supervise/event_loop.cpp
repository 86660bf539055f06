#include "event_loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "accept.hpp"
#include "log_line.hpp"

namespace kashim::supervise {
namespace {

// Takes one notification, if there is one, and answers it.
void serve_one(int listener, Tuner& tuner, Accepts& accepts) {
  seccomp_notif notification;
  std::memset(&notification, 0, sizeof notification);                         // the kernel insists
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &notification) != 0) return;  // gone, EINTR
  const NotifiedCall call(listener, notification);
  std::lock_guard<std::mutex> hold(accepts.lock());
  accepts.on_notification(call.thread());
  tuner.act_for(call.thread());
  if (notification.data.nr == SYS_accept || notification.data.nr == SYS_accept4) {
    accepts.handle(call);
  } else {
    tuner.handle(call);
  }
}

// poll() that also keeps the waiting accepts in check (Accepts::tick), and watches the
// program's threads that wait in them: when one exits, at once (Accepts::check_now).
int poll_and_tick(pollfd* entries, nfds_t count, Accepts& accepts) {
  constexpr nfds_t kOwn = 2;  // the callers': the signalfd and the notification descriptor
  pollfd all[kOwn + Accepts::kMaxWaits];
  count = std::min(count, kOwn);
  std::copy(entries, entries + count, all);
  const nfds_t watched = accepts.watch_waiting_threads(all + count);
  const int interval = accepts.tick_interval_ms();
  int ready = poll(all, count + watched, interval);
  const int error = errno;
  std::copy(all, all + count, entries);
  bool thread_exited = false;
  for (nfds_t i = count; ready > 0 && i < count + watched; ++i) {
    if (all[i].revents != 0) {
      thread_exited = true;
      --ready;  // the caller counts its own entries only
    }
  }
  if (thread_exited) {
    accepts.check_now();
  } else if (interval >= 0) {
    accepts.tick();
  }
  errno = error;  // the caller looks at poll's
  return ready;
}

// True while some process still runs under the filter: the listener reports POLLHUP once
// the last one is gone (Linux 5.8).
bool filter_in_use(int listener) {
  pollfd entry{listener, POLLIN, 0};
  return poll(&entry, 1, 0) >= 0 && (entry.revents & POLLHUP) == 0;
}

void report_counts(const Tuner& tuner, pid_t child, const char* what) {
  if (!tuner.supervisor_logging(LogLevel::kDebug)) return;
  const NotificationCounts& counts = tuner.counts();
  LogLine line;
  line.add("supervise: pid ").add(static_cast<int>(child)).add(" ").add(what).add(", ");
  line.add(static_cast<std::int64_t>(counts.total())).add(" notifications (connect ");
  line.add(static_cast<std::int64_t>(counts.connect)).add(", listen ");
  line.add(static_cast<std::int64_t>(counts.listen)).add(", accept ");
  line.add(static_cast<std::int64_t>(counts.accept)).add(", fastopen ");
  line.add(static_cast<std::int64_t>(counts.fastopen)).add(", setsockopt ");
  line.add(static_cast<std::int64_t>(counts.setsockopt)).add(", other ");
  line.add(static_cast<std::int64_t>(counts.other)).add(")");
  tuner.log_as_supervisor(line);
}

// COMMAND has ended, but processes it started still run under the filter (a daemon that
// forked and let its parent exit): their calls must keep being answered, or they would fail
// with ENOSYS. A detached copy of the supervisor serves them until the last one is gone,
// while this one ends as COMMAND did.
void serve_descendants(UniqueFd& listener, Tuner& tuner, Accepts& accepts,
                       const ProcessState& state, int signal_fd) {
  // fork() copies only the calling thread: the accepts waiting in threads wait again in the
  // copy's own.
  accepts.stop_waiting();
  if (!listener || !filter_in_use(listener.get())) return;
  const pid_t server = fork();
  if (server != 0) return;  // the supervisor goes on to exit (a failed fork: it has to)
  accepts.resume_waiting();
  setsid();
  if (int null = open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) dup2(null, fd);
  }
  // Nothing of the session it leaves: its terminal, nor the signals the supervisor took over,
  // which stay blocked. A hangup or ^C sent to that session before setsid() is pending here,
  // and would end the copy, leaving the descendants' calls failing with ENOSYS.
  if (state.terminal >= 0) close(state.terminal);
  if (signal_fd >= 0) close(signal_fd);
  for (;;) {
    pollfd entry{listener.get(), POLLIN, 0};
    if (poll_and_tick(&entry, 1, accepts) < 0 && errno != EINTR) break;
    if ((entry.revents & POLLIN) != 0) {
      serve_one(listener.get(), tuner, accepts);
    } else if ((entry.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      break;
    }
  }
  report_counts(tuner, getpid(), "served the descendants of COMMAND");
  _exit(0);
}

[[noreturn]] void end_as(int status, ProcessState* state) {
  if (state->terminal >= 0 && tcgetpgrp(state->terminal) == state->child_group) {
    tcsetpgrp(state->terminal, state->own_group);  // SIGTTOU is still blocked
  }
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    // The same death, without a second core dump (COMMAND's, if any, is the one that matters).
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigaction(signal, &default_action, nullptr);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, signal);
    raise(signal);  // this thread's, not another's
    sigprocmask(SIG_UNBLOCK, &only, nullptr);
    _exit(128 + signal);  // a signal whose default is not to terminate (none we can get)
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
}

class Supervision {
 public:
  Supervision(pid_t child, ProcessState* state) : child_(child), state_(*state) {}

  // A signal for the supervisor. Returns true once COMMAND has ended.
  bool on_signal(const signalfd_siginfo& info) {
    const int signal = static_cast<int>(info.ssi_signo);
    if (signal == SIGCHLD) return collect();
    if (signal == SIGCONT) {
      resume();
    } else if (static_cast<pid_t>(info.ssi_pid) != child_ &&
               (state_.command_own_group || info.ssi_code != SI_KERNEL) &&
               !((signal == SIGTTIN || signal == SIGTTOU) && info.ssi_code == SI_KERNEL)) {
      // COMMAND's own signals to its parent are not sent back to it, nor, in a group shared
      // with COMMAND, the terminal's (^C, ^\, a resize, a hangup, a background read), which
      // reached it too. A sigqueue()'s value and sender go with it.
      forward(info);
      if (signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU) stop_forwarded_ = true;
    }
    return false;
  }
  int status() const { return status_; }
  void wait_blocking() {
    while (waitpid(child_, &status_, 0) < 0 && errno == EINTR) {
    }
  }

 private:
  bool collect() {
    int status = 0;
    for (;;) {
      const pid_t pid = waitpid(child_, &status, WNOHANG | WUNTRACED | WCONTINUED);
      if (pid <= 0) return false;
      if (WIFEXITED(status) || WIFSIGNALED(status)) {
        status_ = status;
        return true;
      }
      if (WIFSTOPPED(status)) stopped(WSTOPSIG(status));
    }
  }

  void forward(const signalfd_siginfo& info) {
    const int signal = static_cast<int>(info.ssi_signo);
    if (info.ssi_code == SI_QUEUE) {
      siginfo_t queued;
      std::memset(&queued, 0, sizeof queued);
      queued.si_signo = signal;
      queued.si_code = SI_QUEUE;
      queued.si_pid = static_cast<pid_t>(info.ssi_pid);
      queued.si_uid = info.ssi_uid;
      queued.si_value.sival_ptr =
          reinterpret_cast<void*>(static_cast<std::uintptr_t>(info.ssi_ptr));
      if (syscall(SYS_rt_sigqueueinfo, child_, signal, &queued) == 0) return;
    }
    kill(child_, signal);
  }

  // COMMAND stopped by a job-control signal (^Z, a read or write from the background, or
  // one sent): the supervisor stops too, with the same signal, so that its caller (a shell)
  // sees the job stopped as it would COMMAND, and takes the terminal back. A SIGSTOP of
  // COMMAND alone is COMMAND's business: the supervisor goes on serving its other
  // processes.
  void stopped(int signal) {
    if (signal != SIGTSTP && signal != SIGTTIN && signal != SIGTTOU) return;
    // Out of COMMAND's group, the supervisor stops only with a stop it forwarded: its sender
    // continues it. One sent to COMMAND's group is continued there, where the supervisor is
    // not: stopped, it would stay so, and COMMAND's notified calls would wait for it.
    if (state_.supervisor_leaves_group && !std::exchange(stop_forwarded_, false)) return;
    if (state_.command_own_group && state_.terminal >= 0) {
      const pid_t foreground = tcgetpgrp(state_.terminal);
      // fg of a job still running gives the supervisor's group the terminal without a
      // SIGCONT: COMMAND, stopped at its read, gets it and goes on.
      if (signal != SIGTSTP && foreground == state_.own_group) {
        tcsetpgrp(state_.terminal, child_);
        kill(child_, SIGCONT);
        return;
      }
      if (foreground == child_) tcsetpgrp(state_.terminal, state_.own_group);
    }
    // Taken over (blocked): sent, then let in, it stops this process until a SIGCONT.
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, signal);
    raise(signal);  // this thread's, not another's
    sigprocmask(SIG_UNBLOCK, &only, nullptr);
    sigprocmask(SIG_BLOCK, &only, nullptr);
  }

  // fg gives the supervisor's group the terminal before its SIGCONT, bg does not: whoever
  // holds it, COMMAND gets it, as a job of its own would.
  void resume() {
    if (state_.command_own_group && tcgetpgrp(state_.terminal) == state_.own_group) {
      tcsetpgrp(state_.terminal, child_);
    }
    kill(child_, SIGCONT);
  }

  pid_t child_;
  ProcessState& state_;
  int status_ = 0;
  bool stop_forwarded_ = false;  // a job-control stop was forwarded and has not stopped COMMAND
};

}  // namespace

void supervise_until_exit(pid_t child, UniqueFd listener, bool install_supported, Tuner& tuner,
                          ProcessState* state) {
  Accepts accepts(tuner, install_supported);
  sigset_t signals = supervisor_signals();
  UniqueFd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC));
  Supervision supervision(child, state);
  if (!signal_fd) {
    supervision.wait_blocking();
    end_as(supervision.status(), state);
  }
  bool ended = false;
  while (!ended) {
    pollfd entries[2] = {{signal_fd.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
    const nfds_t count = listener ? 2 : 1;
    if (poll_and_tick(entries, count, accepts) < 0) {
      if (errno == EINTR) continue;
      supervision.wait_blocking();  // cannot watch any longer (ENOMEM): at least wait
      break;
    }
    // Notifications first: a thread of COMMAND waits on each.
    if (count == 2 && (entries[1].revents & POLLIN) != 0) serve_one(listener.get(), tuner, accepts);
    if ((entries[0].revents & POLLIN) != 0) {
      signalfd_siginfo info;
      while (read(signal_fd.get(), &info, sizeof info) == sizeof info) {
        if (supervision.on_signal(info)) ended = true;
        pollfd more{signal_fd.get(), POLLIN, 0};
        if (ended || poll(&more, 1, 0) != 1) break;
      }
    }
  }
  report_counts(tuner, child, WIFSIGNALED(supervision.status()) ? "killed" : "exited");
  serve_descendants(listener, tuner, accepts, *state, signal_fd.get());
  end_as(supervision.status(), state);
}

}  // namespace kashim::supervise
