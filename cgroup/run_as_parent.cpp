// `kashim cgroup run` where a keeper cannot outlive COMMAND: as PID 1 of a PID namespace (a
// container's entry point; the namespace dies with it) or as a child subreaper, an orphaned
// keeper would be COMMAND's own child. There kashim-cgroup stays COMMAND's parent, as an
// init does: it passes signals on, reaps every orphan, removes the cgroup and exits as
// COMMAND did.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "command.hpp"
#include "refusal.hpp"
#include "run_as_parent.hpp"

namespace kashim::cgroup {

namespace {

// Dies of `signal_number` as COMMAND did, without a core dump of our own (PID 1 cannot be
// killed by its own signals: it exits with 128 + the signal, as a shell would report it).
[[noreturn]] void die_of(int signal_number) {
  const rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(signal_number, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, signal_number);
  raise(signal_number);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  _exit(128 + signal_number);
}

}  // namespace

int exec_failure(const std::string& command, int error) {
  if (error == ENOENT) {
    std::fprintf(stderr, "kashim cgroup: %s: command not found\n", command.c_str());
    return 127;
  }
  std::fprintf(stderr, "kashim cgroup: %s: %s\n", command.c_str(), std::strerror(error));
  return 126;
}

bool keeper_would_be_commands_child() {
  int subreaper = 0;
  return getpid() == 1 || (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper != 0);
}

int run_as_parent(RunCgroup& cgroup, const std::vector<std::string>& command,
                  const std::vector<std::string>& environment,
                  const std::vector<int>& commands_descriptors, const sigset_t& callers_mask) {
  sigset_t passed_on = signals_to_pass_on();
  sigprocmask(SIG_BLOCK, &passed_on, nullptr);
  struct sigaction default_action {
  }, original_sigchld{};
  default_action.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &default_action, &original_sigchld);  // an ignored one reaps COMMAND
  // The working directory is COMMAND's alone (see start_keeper in run.cpp): left here before
  // COMMAND starts, and taken back by the child.
  const int working_directory = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (working_directory < 0 || chdir("/") != 0) {
    throw Refusal(with_errno("cannot leave the working directory", errno));
  }
  // COMMAND starts only once this process holds nothing of its caller's (the working
  // directory, the descriptors): the child waits for the end of this pipe. Without it,
  // COMMAND could leave the directory and unmount it before this process closed its handle.
  int released[2];
  if (pipe2(released, O_CLOEXEC) != 0) throw Refusal(with_errno("pipe", errno));
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) throw Refusal(with_errno("fork", errno));
  if (child == 0) {
    close(released[1]);
    char byte;
    while (read(released[0], &byte, 1) < 0 && errno == EINTR) {
    }
    close(released[0]);
    sigaction(SIGCHLD, &original_sigchld, nullptr);
    sigprocmask(SIG_SETMASK, &callers_mask, nullptr);
    if (fchdir(working_directory) != 0) {
      std::fprintf(stderr, "kashim cgroup: %s\n",
                   with_errno("cannot return to the working directory", errno).c_str());
      _exit(kExitRefused);
    }
    if (write(cgroup.procs_fd(), "0", 1) != 1) {
      std::fprintf(stderr, "kashim cgroup: %s\n",
                   with_errno("cannot move the command into " + cgroup.path(), errno).c_str());
      _exit(kExitRefused);
    }
    exec_with_environment(command, environment);
    _exit(exec_failure(command[0], errno));
  }
  close(working_directory);
  for (int fd : commands_descriptors) close(fd);
  close(released[0]);
  close(released[1]);  // COMMAND may start
  int status = 0;
  for (bool ended = false; !ended;) {
    siginfo_t info{};
    const int signal_number = sigwaitinfo(&passed_on, &info);
    if (signal_number == SIGCHLD) {
      // Every child that ended: COMMAND, and the orphans a PID 1 inherits.
      for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
        if (pid == child) {
          ended = true;
          break;
        }
      }
    } else if (signal_number > 0 && info.si_code != SI_KERNEL && info.si_pid != child) {
      kill(child, signal_number);  // a terminal's own reach COMMAND, in our process group
    }
  }
  cgroup.release_and_tell(command[0]);
  if (WIFSIGNALED(status)) die_of(WTERMSIG(status));
  return WEXITSTATUS(status);
}

}  // namespace kashim::cgroup
