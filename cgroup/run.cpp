// `kashim cgroup run`: COMMAND in a cgroup of its own. This process becomes COMMAND, so that
// its pid, parent, process group, signals, stops, exit status and core dump are COMMAND's as
// if it ran directly. A keeper forked off first holds the programs' links and the cgroup;
// when COMMAND exits it moves what COMMAND left running out, removes the cgroup and exits,
// closing the links: nothing outlives the run.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cgroup_tree.hpp"
#include "command.hpp"
#include "commands.hpp"
#include "programs.hpp"
#include "refusal.hpp"
#include "run_as_parent.hpp"
#include "run_cgroup.hpp"
#include "translate.hpp"

namespace kashim::cgroup {

namespace {

// The keeper: out of the caller's session and process group (a terminal's ^C, or a signal
// to the group, is COMMAND's alone) and not COMMAND's child (it is orphaned at once). It
// waits for COMMAND's exit (`command_pidfd`) and cleans up. Every signal it could catch is
// blocked: only SIGKILL ends it early, and then COMMAND runs on untuned and the next run
// removes the cgroup (RunCgroup). It holds nothing of COMMAND's: no descriptor, not the
// working directory.
[[noreturn]] void keep(RunCgroup& cgroup, int command_pidfd, const std::string& command_name,
                       const std::vector<int>& commands_descriptors) {
  setsid();
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);  // a write to a closed stderr fails with EPIPE
  // Nothing of COMMAND's: a pipe or socket COMMAND closes must end, a lock it drops must be
  // free, while the keeper waits. Only a terminal or a file keeps stderr, for the one line
  // below; a pipe's reader would otherwise wait for the keeper, not for COMMAND.
  for (int fd : commands_descriptors) close(fd);
  struct stat error_output;
  const bool keep_stderr = isatty(STDERR_FILENO) || (fstat(STDERR_FILENO, &error_output) == 0 &&
                                                     S_ISREG(error_output.st_mode));
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (!keep_stderr) dup2(null, STDERR_FILENO);
  }
  pollfd exited{command_pidfd, POLLIN, 0};
  while (poll(&exited, 1, -1) < 0 && errno == EINTR) {
  }
  try {
    cgroup.release_and_tell(command_name);
  } catch (const Refusal& refusal) {
    std::fprintf(stderr, "kashim cgroup: %s\n", refusal.what());
  }
  _exit(0);
}

// Forks the keeper through a child that exits at once, so that the keeper is nobody's child
// here. Refusal when it cannot.
void start_keeper(RunCgroup& cgroup, int command_pidfd, const std::string& command_name,
                  const std::vector<int>& commands_descriptors) {
  std::fflush(nullptr);
  // A blocked SIGCHLD (blocked while the run is set up, and maybe by the caller) stays
  // pending across exec: the middle child's must not reach COMMAND, which never had a child.
  // One that was pending before is the caller's.
  sigset_t blocked, pending;
  sigprocmask(SIG_BLOCK, nullptr, &blocked);
  sigpending(&pending);
  const bool ours_would_stay = sigismember(&blocked, SIGCHLD) && !sigismember(&pending, SIGCHLD);
  const pid_t middle = fork();
  if (middle < 0) throw Refusal(with_errno("fork", errno));
  if (middle == 0) {
    // The keeper does not keep COMMAND's working directory either, which COMMAND may leave (a
    // daemon's chdir("/")) to let its file system be unmounted. Left here, before the keeper
    // exists and so before COMMAND starts. Every path the keeper uses is absolute.
    if (chdir("/") != 0) _exit(1);
    const pid_t keeper = fork();
    if (keeper == 0) keep(cgroup, command_pidfd, command_name, commands_descriptors);
    _exit(keeper < 0 ? 1 : 0);
  }
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (ours_would_stay) {
    sigset_t child_ended;
    sigemptyset(&child_ended);
    sigaddset(&child_ended, SIGCHLD);
    const timespec now = {0, 0};
    sigtimedwait(&child_ended, nullptr, &now);  // the middle child's, sent before it was reaped
  }
  // An ignored SIGCHLD reaps the middle child itself (ECHILD): its status is then unknown,
  // and a keeper that could not be forked shows as the cgroup left to the next run.
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) throw Refusal("cannot fork the keeper");
}

// COMMAND's environment: this process's, less the wrapper's KASHIM_* variables, with the
// caller's own values put back where the wrapper's differ (RunRequest).
std::vector<std::string> commands_environment(const RunRequest& request) {
  return command_environment(request.drop_kashim_env, request.setenv, request.unsetenv);
}

}  // namespace

void take_callers_variables(const RunRequest& request) {
  auto ours = [](const std::string& name) { return name.rfind("KASHIM_", 0) != 0; };
  for (const std::string& name : request.unsetenv) {
    if (ours(name)) unsetenv(name.c_str());
  }
  for (const std::string& entry : request.setenv) {
    const std::string name = entry.substr(0, entry.find('='));
    if (ours(name)) setenv(name.c_str(), entry.c_str() + name.size() + 1, 1);
  }
}

int run(const Config& config, const RunRequest& request) {
  const std::vector<int> commands_descriptors = descriptors_from_caller();
  const std::vector<std::string> environment = commands_environment(request);
  if (config.out_of_scope) {  // KASHIM_PROGRAMS leaves COMMAND out: it runs as it is
    exec_with_environment(request.command, environment);
    return exec_failure(request.command[0], errno);
  }
  // A signal that would end this process (^C, a service being stopped) waits until the
  // keeper is there to remove the cgroup, or, as COMMAND's parent, is passed on to COMMAND.
  // COMMAND starts with the caller's mask.
  const sigset_t held = signals_to_pass_on();
  sigset_t callers_mask;
  sigprocmask(SIG_BLOCK, &held, &callers_mask);
  const std::string mount = cgroup2_mount();
  const std::string parent = own_cgroup(mount);
  probe_kernel();
  Programs programs(to_bpf_settings(config));
  RunCgroup cgroup(parent);
  programs.attach(cgroup.fd(), cgroup.path());
  if (keeper_would_be_commands_child()) {
    return run_as_parent(cgroup, request.command, environment, commands_descriptors, callers_mask);
  }
  // Ours, and COMMAND's after exec: the keeper's way to learn that COMMAND has exited.
  const int own_pidfd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  if (own_pidfd < 0) throw Refusal(with_errno("pidfd_open", errno));
  start_keeper(cgroup, own_pidfd, request.command[0], commands_descriptors);
  cgroup.leave_to_keeper();
  // Into the cgroup before exec: COMMAND's first socket is already the cgroup's.
  if (write(cgroup.procs_fd(), "0", 1) != 1) {
    throw Refusal(with_errno("cannot move the command into " + cgroup.path(), errno));
  }
  sigprocmask(SIG_SETMASK, &callers_mask, nullptr);     // one held meanwhile ends us here
  exec_with_environment(request.command, environment);  // the descriptors above are O_CLOEXEC
  return exec_failure(request.command[0], errno);
}

}  // namespace kashim::cgroup
