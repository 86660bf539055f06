// `kashim cgroup run`: COMMAND in a cgroup of its own, with the programs attached through
// links this process holds, so that nothing outlives the run.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cgroup_tree.hpp"
#include "commands.hpp"
#include "programs.hpp"
#include "refusal.hpp"
#include "run_cgroup.hpp"
#include "translate.hpp"

namespace kashim::cgroup {

namespace {

// Signals passed on to COMMAND when someone sends them to us. Those a terminal sends reach
// COMMAND itself (same process group), so only signals sent by a process are forwarded.
constexpr int kForwarded[] = {SIGHUP,  SIGINT,  SIGQUIT,  SIGTERM, SIGUSR1,
                              SIGUSR2, SIGALRM, SIGWINCH, SIGCONT};

// Where the child failed before COMMAND started: the step and its errno, sent over a pipe
// that exec closes.
struct ChildFailure {
  int step;  // 0: moving into the cgroup, 1: exec
  int error;
};

void write_failure(int pipe_fd, int step) {
  const ChildFailure failure{step, errno};
  [[maybe_unused]] ssize_t written = write(pipe_fd, &failure, sizeof failure);
  _exit(127);
}

// Forks COMMAND, which moves itself into the cgroup before exec: its first socket is
// already the cgroup's. Returns its pid, or the exit status (126/127) after one message.
pid_t spawn(const RunCgroup& cgroup, const std::vector<std::string>& command,
            const sigset_t& original_mask, const struct sigaction& sigchld_action,
            int* exit_status) {
  std::vector<char*> argv;
  for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) throw Refusal(with_errno("pipe", errno));
  const pid_t child = fork();
  if (child < 0) throw Refusal(with_errno("fork", errno));
  if (child == 0) {
    close(report[0]);
    sigaction(SIGCHLD, &sigchld_action, nullptr);
    sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    if (write(cgroup.procs_fd(), "0", 1) != 1) write_failure(report[1], 0);
    execvp(argv[0], argv.data());
    write_failure(report[1], 1);
  }
  close(report[1]);
  ChildFailure failure{};
  ssize_t got;
  do {
    got = read(report[0], &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  close(report[0]);
  if (got != sizeof failure) return child;  // exec closed the pipe: COMMAND runs
  waitpid(child, nullptr, 0);
  if (failure.step == 0) {
    throw Refusal(with_errno("cannot move the command into " + cgroup.path(), failure.error));
  }
  if (failure.error == ENOENT) {
    std::fprintf(stderr, "kashim cgroup: %s: command not found\n", argv[0]);
    *exit_status = 127;
  } else {
    std::fprintf(stderr, "kashim cgroup: %s: %s\n", argv[0], std::strerror(failure.error));
    *exit_status = 126;
  }
  return 0;
}

// Waits for COMMAND, passing on the signals others send us. Returns its wait status.
int wait_forwarding(pid_t child, const sigset_t& waited) {
  for (;;) {
    siginfo_t info{};
    const int signal_number = sigwaitinfo(&waited, &info);
    if (signal_number < 0) continue;  // EINTR
    if (signal_number == SIGCHLD) {
      int status = 0;
      if (waitpid(child, &status, WNOHANG) == child) return status;
      continue;
    }
    if (info.si_code <= 0) kill(child, signal_number);  // SI_USER, SI_QUEUE, SI_TKILL
  }
}

// Dies of `signal_number` as COMMAND did, without a core dump of our own.
[[noreturn]] void die_of(int signal_number) {
  const rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(signal_number, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, signal_number);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  raise(signal_number);
  _exit(128 + signal_number);  // a signal whose default is to be ignored
}

}  // namespace

int run(const Config& config, const std::vector<std::string>& command) {
  const std::string mount = cgroup2_mount();
  const std::string parent = own_cgroup(mount);
  probe_kernel();
  // An inherited SIG_IGN would reap COMMAND before we could; COMMAND gets it back.
  struct sigaction default_action {
  }, inherited_action{};
  default_action.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &default_action, &inherited_action);
  sigset_t waited, original_mask;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  for (int forwarded : kForwarded) sigaddset(&waited, forwarded);
  // Blocked before anything exists that a signal's default action would leave behind.
  sigprocmask(SIG_BLOCK, &waited, &original_mask);
  int status = 0;
  {
    Programs programs(to_bpf_settings(config));
    RunCgroup cgroup(parent);
    programs.attach(cgroup.fd(), cgroup.path());
    int exit_status = 0;
    const pid_t child = spawn(cgroup, command, original_mask, inherited_action, &exit_status);
    if (child == 0) return exit_status;
    status = wait_forwarding(child, waited);
    if (int moved = cgroup.release(); moved > 0) {
      std::fprintf(stderr,
                   "kashim cgroup: %d process%s left running by %s moved to %s; their new "
                   "connections are no longer tuned\n",
                   moved, moved == 1 ? "" : "es", command[0].c_str(), parent.c_str());
    }
  }  // the links close here: the programs are detached
  if (WIFSIGNALED(status)) die_of(WTERMSIG(status));
  return WEXITSTATUS(status);
}

}  // namespace kashim::cgroup
