// supervise_probe's scenarios about the process: signals, exit, environment, a daemon.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "supervise_probe.hpp"

extern char** environ;

namespace supervise_probe {

// daemon FILE: forks a child that leaves the caller's pipes and session, waits until this
// process has exited, then connects and writes its connection's values to FILE.
int scenario_daemon(const std::vector<std::string>& args) {
  int server = make_listener();
  int gate[2];
  if (pipe(gate) != 0) die("pipe");
  // A daemon ignores the hangup of the session it leaves, from before it is forked.
  struct sigaction ignore {
  }, hangup{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGHUP, &ignore, &hangup);
  pid_t child = fork();
  if (child != 0) sigaction(SIGHUP, &hangup, nullptr);
  if (child == 0) {
    close(gate[1]);
    int null = open("/dev/null", O_RDWR);
    for (int fd : {0, 1, 2}) dup2(null, fd);
    setsid();
    char byte;
    while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {
    }  // end of file: the parent is gone, and with it the supervisor's main process
    // With a second argument, also until that file exists (the test makes it when the
    // supervisor's session is over).
    for (int i = 0; args.size() > 1 && access(args[1].c_str(), F_OK) != 0 && i < 2000; ++i) {
      usleep(10000);
    }
    FILE* out = std::fopen(args.at(0).c_str(), "w");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(port_of(server));
    errno = 0;
    int result = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    std::fprintf(out, "connect=%s\ndaemon=%s\n", outcome(result, errno).c_str(),
                 values_of(fd).c_str());
    std::fclose(out);
    _exit(0);
  }
  put("daemon_pid", child);
  return 0;
}

// wait-signal: reports the pid, then waits for one of the forwarded signals and exits
// with 100 + its number. Prints "ready" once waiting, "continued" after each SIGCONT.
int scenario_wait_signal(const std::vector<std::string>&) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM,
                     SIGVTALRM, SIGPWR, static_cast<int>(SIGRTMIN) + 1}) {
    sigaddset(&set, signal);
  }
  sigprocmask(SIG_BLOCK, &set, nullptr);
  // Job control: says when it is running again after a stop.
  struct sigaction on_continue {};
  on_continue.sa_handler = [](int) { [[maybe_unused]] auto ignored = write(1, "continued\n", 10); };
  on_continue.sa_flags = SA_RESTART;
  sigaction(SIGCONT, &on_continue, nullptr);
  put("pid", getpid());
  put("parent", getppid());
  std::printf("ready\n");
  std::fflush(stdout);
  int signal = 0;
  sigwait(&set, &signal);
  put("signal", signal);
  return 100 + signal;
}

// exit N | kill SIGNAL: ends as told.
int scenario_exit(const std::vector<std::string>& args) {
  return std::atoi(args.at(0).c_str());
}
int scenario_kill(const std::vector<std::string>& args) {
  signal(std::atoi(args.at(0).c_str()), SIG_DFL);
  raise(std::atoi(args.at(0).c_str()));
  return 1;
}

// read-line: reads one line from stdin (a terminal, in the job control test).
int scenario_read_line(const std::vector<std::string>&) {
  char line[256] = {};
  if (std::fgets(line, sizeof line, stdin) == nullptr) die("read from stdin");
  line[std::strcspn(line, "\r\n")] = '\0';
  put("line", line);
  return 0;
}

// sigchld: whether SIGCHLD came in ignored; exits 42.
int scenario_sigchld(const std::vector<std::string>&) {
  struct sigaction current {};
  sigaction(SIGCHLD, nullptr, &current);
  put("sigchld_ignored", current.sa_handler == SIG_IGN ? 1 : 0);
  return 42;
}

// environment: the KASHIM_*, LD_* and LISTEN_* variables the program sees, and its pid.
int scenario_environment(const std::vector<std::string>&) {
  put("pid", getpid());
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  struct stat status {};
  if (pidfd >= 0 && fstat(pidfd, &status) == 0) put("pidfd_id", std::to_string(status.st_ino));
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "KASHIM_", 7) == 0 || std::strncmp(*entry, "LD_", 3) == 0 ||
        std::strncmp(*entry, "LISTEN_", 7) == 0 || std::strncmp(*entry, "WATCHDOG_", 9) == 0) {
      const char* equals = std::strchr(*entry, '=');
      put("env_" + std::string(*entry, static_cast<std::size_t>(equals - *entry)), equals + 1);
    }
  }
  return 0;
}

// kept-across-exec [wait]: the interval timers (remaining ms), the child-subreaper flag and
// the scheduling policy and nice value this process started with, which exec keeps and fork
// does not (the policy and nice value under SCHED_RESET_ON_FORK). Cancels its real-time
// timer; with "wait", then waits until that timer would have fired, and a second more, for
// a SIGALRM that must not come (a copy of the timer left running in its parent).
int scenario_kept_across_exec(const std::vector<std::string>& args) {
  sigset_t alarm;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  sigprocmask(SIG_BLOCK, &alarm, nullptr);
  auto milliseconds = [](const timeval& time) { return time.tv_sec * 1000L + time.tv_usec / 1000; };
  const itimerval cancel{};
  itimerval real{}, virtual_time{}, profile{};
  setitimer(ITIMER_REAL, &cancel, &real);
  getitimer(ITIMER_VIRTUAL, &virtual_time);
  getitimer(ITIMER_PROF, &profile);
  put("real_ms", milliseconds(real.it_value));
  put("real_interval_ms", milliseconds(real.it_interval));
  put("virtual_ms", milliseconds(virtual_time.it_value));
  put("prof_ms", milliseconds(profile.it_value));
  int subreaper = -1;
  prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
  put("subreaper", subreaper);
  put("policy", sched_getscheduler(0));
  put("nice", getpriority(PRIO_PROCESS, 0));
  if (!args.empty() && args[0] == "wait") {
    const long wait_ms = milliseconds(real.it_value) + 1000;
    const timespec timeout{wait_ms / 1000, (wait_ms % 1000) * 1000000L};
    put("alarm_after_cancel", sigtimedwait(&alarm, nullptr, &timeout) == SIGALRM ? 1 : 0);
  }
  return 0;
}

// record-lock FD: who holds the POSIX record lock on FD's file, as another process sees it
// (a process never conflicts with its own locks): "holder" is its pid, or 0 when none.
int scenario_record_lock(const std::vector<std::string>& args) {
  const int fd = std::atoi(args.at(0).c_str());
  int seen[2];
  if (pipe(seen) != 0) die("pipe");
  const pid_t child = fork();
  if (child == 0) {
    struct flock asked {};
    asked.l_type = F_WRLCK;
    asked.l_whence = SEEK_SET;
    pid_t holder = -1;
    if (fcntl(fd, F_GETLK, &asked) == 0) holder = asked.l_type == F_UNLCK ? 0 : asked.l_pid;
    _exit(write(seen[1], &holder, sizeof holder) == sizeof holder ? 0 : 1);
  }
  pid_t holder = -1;
  if (read(seen[0], &holder, sizeof holder) != sizeof holder) die("read");
  waitpid(child, nullptr, 0);
  put("pid", getpid());
  put("holder", holder);
  return 0;
}

// process-group: this process's group and session as it started, and whether setsid()
// works (it fails with EPERM for a group leader).
int scenario_process_group(const std::vector<std::string>&) {
  put("pgrp", getpgrp());
  put("leads_group", getpgrp() == getpid() ? 1 : 0);
  put("sid", getsid(0));
  errno = 0;
  const pid_t session = setsid();
  put("setsid", outcome(session, errno));
  return 0;
}

// signal-with-child: this process and a child it forks each wait (10 s at most) for a
// SIGTERM and write its number ("signal", "child_signal"; 0 when none came). Prints "ready"
// once both wait.
int scenario_signal_with_child(const std::vector<std::string>&) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);  // before the fork: the child has it blocked too
  const timespec timeout{10, 0};
  const pid_t child = fork();
  if (child == 0) {
    const int got = sigtimedwait(&term, nullptr, &timeout);
    put("child_signal", got > 0 ? got : 0);
    _exit(0);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  const int got = sigtimedwait(&term, nullptr, &timeout);
  put("signal", got > 0 ? got : 0);
  waitpid(child, nullptr, 0);
  return 0;
}

// orphan: forks a child that forks a grandchild and exits; the grandchild exits once it is
// orphaned. Reports this process's pid and whether the orphan came to it ("orphan_reaped"):
// as a pid namespace's init, or a subreaper, it does; otherwise it has no child left.
int scenario_orphan(const std::vector<std::string>&) {
  const pid_t child = fork();
  if (child == 0) {
    const pid_t parent = getpid();
    if (fork() == 0) {
      for (int i = 0; i < 10000 && getppid() == parent; ++i) usleep(1000);  // 10 s at most
      _exit(0);
    }
    _exit(0);
  }
  waitpid(child, nullptr, 0);  // its exit reparented the grandchild already
  put("pid", getpid());
  put("orphan_reaped", waitpid(-1, nullptr, 0) > 0 ? 1 : 0);
  return 0;
}

}  // namespace supervise_probe
