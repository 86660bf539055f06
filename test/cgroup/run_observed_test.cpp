// What a program run under `kashim cgroup run` observes of its caller's world, compared with
// a plain run: the working directory left free, standard descriptors closed, the signals
// pending, the environment.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "cgroup_fixture.hpp"
#include "run_helpers.hpp"

namespace kashim::testing {
namespace {

// An environment as env(1) prints it, in an order of its own (bash reorders what it passes).
std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines = lines_of(text);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Neither the keeper nor kashim-cgroup as COMMAND's parent keeps the caller's working
// directory: once COMMAND has left it (a daemon's chdir("/")), the file system it lies on can
// be unmounted, as without kashim. Each run is in a private mount namespace of its own; the
// one in a PID namespace also in a TestCgroup.
TEST_F(CgroupRun, NothingOfKashimsKeepsTheCallersWorkingDirectoryBusy) {
  KASHIM_REQUIRE(exists("/usr/bin/unshare"), "unshare (util-linux)");
  const std::string directory = scratch_path("working-directory");
  const std::string leave_and_unmount = "cd / && umount " + directory + " && echo unmounted";
  auto run_from_a_mount = [&](const std::vector<std::string>& namespaces,
                              const std::vector<std::string>& command) {
    std::string script = "mount -t tmpfs none " + directory + " && cd " + directory + " && exec";
    for (const std::string& word : command) script += " '" + word + "'";
    std::vector<std::string> argv = {"unshare", "--mount", "--propagation", "private"};
    argv.insert(argv.end(), namespaces.begin(), namespaces.end());
    argv.insert(argv.end(), {"sh", "-c", script});
    return argv;
  };
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  const std::vector<std::string> command = {"sh", "-c", leave_and_unmount};
  const ProcessRun plain = run_command(run_from_a_mount({}, command), kTuned);
  ASSERT_EQ(plain.out, "unmounted\n") << plain.err;
  const std::vector<std::string> under_kashim = cgroup_run(command);
  const ProcessRun kept = run_command(run_from_a_mount({}, under_kashim), kTuned);
  EXPECT_EQ(kept.out, "unmounted\n") << "the keeper: " << kept.err;
  {
    const TestCgroup cgroup;
    const ProcessRun as_parent =
        run_command(cgroup.inside(run_from_a_mount({"--pid", "--fork"}, under_kashim)), kTuned);
    EXPECT_EQ(as_parent.out, "unmounted\n") << "as PID 1: " << as_parent.err;
  }
  rmdir(directory.c_str());
}

// A caller may start COMMAND with stdin, stdout and stderr closed. COMMAND gets them closed,
// as without kashim, and stays in the run's cgroup: kashim's own descriptors never take those
// numbers, where the keeper, making them /dev/null, lost the pidfd it waits on, took it for
// COMMAND's exit and moved COMMAND out of the cgroup at once.
TEST_F(CgroupRun, ACommandStartedWithoutStandardDescriptorsStaysInTheCgroup) {
  std::vector<std::string> argv = {"python3", "-c",
                                   "import os, sys\n"
                                   "for fd in (0, 1, 2): os.close(fd)\n"
                                   "os.execvp(sys.argv[1], sys.argv[1:])\n"};
  for (const std::string& word : cgroup_run({"sleep", "30"})) argv.push_back(word);
  Child run(argv, kTuned);
  const std::string pid = std::to_string(run.pid());
  for (int i = 0; i < 2000 && read_file("/proc/" + pid + "/comm") != "sleep\n"; ++i) {
    usleep(10000);  // until kashim-cgroup has become COMMAND (20 s at most)
  }
  ASSERT_EQ(read_file("/proc/" + pid + "/comm"), "sleep\n");
  // Found only while the keeper waits on COMMAND's pidfd; its number is not stdio's.
  const auto [keeper, pidfd] = keeper_and_pidfd_of(run.pid());
  EXPECT_GT(keeper, 0) << "no keeper waits for COMMAND";
  EXPECT_GT(pidfd, STDERR_FILENO) << "the keeper's pidfd of COMMAND";
  EXPECT_NE(cgroup_of(pid).find("/kashim-run." + pid), std::string::npos) << cgroup_of(pid);
  for (const char* fd : {"0", "1", "2"}) {
    EXPECT_FALSE(exists("/proc/" + pid + "/fd/" + fd)) << "COMMAND has fd " << fd;
  }
  kill(run.pid(), SIGKILL);
  EXPECT_EQ(run.wait(), 128 + SIGKILL);
}

// A caller that blocks SIGCHLD (a supervisor waiting with signalfd) passes the mask on:
// COMMAND starts with it, and with no SIGCHLD pending for a child it never had (the one
// kashim-cgroup forks to start the keeper).
TEST_F(CgroupRun, TheCommandStartsWithNoSignalPendingThatItsCallerDidNotHave) {
  const std::vector<std::string> blocking = {
      "python3", "-c",
      "import os, signal, sys\n"
      "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})\n"
      "os.execvp(sys.argv[1], sys.argv[1:])\n"};
  const std::vector<std::string> command = {"grep", "-E", "^(SigBlk|SigPnd|ShdPnd)",
                                            "/proc/self/status"};
  std::vector<std::string> plain = blocking;
  plain.insert(plain.end(), command.begin(), command.end());
  std::vector<std::string> under_kashim = blocking;
  for (const std::string& word : cgroup_run(command)) under_kashim.push_back(word);
  const ProcessRun without = run_command(plain, kTuned);
  ASSERT_EQ(without.exit_code, 0) << without.err;
  ASSERT_NE(without.out.find("SigBlk:\t0000000000010000"), std::string::npos) << without.out;
  const ProcessRun with = run_command(under_kashim, kTuned);
  EXPECT_EQ(with.exit_code, 0) << with.err;
  EXPECT_EQ(with.out, without.out);
}

// The whole environment is the caller's, as it was, not as the wrapper's bash leaves it: bash
// adds PWD and SHLVL, corrects a stale PWD, exports its own IFS, drops an OLDPWD that is no
// directory, and sources BASH_ENV, whose exports would otherwise reach COMMAND.
TEST_F(CgroupRun, TheCommandGetsItsCallersEnvironmentAsItWas) {
  const std::string bash_env = scratch_path("bash-env");
  std::ofstream(bash_env) << "export INJECTED=1 PATH=/nowhere:$PATH\n";
  const Environment environment = {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH},
                                   {"IFS", ":"},
                                   {"PWD", "/"},
                                   {"OLDPWD", "/nowhere"},
                                   {"BASH_ENV", bash_env},
                                   {"SPACED", " a  b "},
                                   {"EMPTY", ""}};
  const ProcessRun plain = run_command({"env"}, environment);
  const ProcessRun run =
      run_command({KASHIM_WRAPPER_PATH, "cgroup", "run", "--idle", "41", "--", "env"}, environment);
  std::filesystem::remove(bash_env);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(sorted_lines(run.out), sorted_lines(plain.out));
}

// COMMAND is found where its caller's PATH finds it, though a BASH_ENV file the wrapper's bash
// sourced put another directory first.
TEST_F(CgroupRun, TheCommandIsFoundInItsCallersPath) {
  const std::string directory = scratch_path("bash-env-bin");
  const std::string bash_env = directory + "/bash-env";
  ASSERT_EQ(mkdir(directory.c_str(), 0755), 0);
  std::ofstream(bash_env) << "export PATH=" << directory << ":$PATH\n";
  std::ofstream(directory + "/env") << "#!/bin/sh\necho not the env of the caller\n";
  ASSERT_EQ(chmod((directory + "/env").c_str(), 0755), 0);
  const Environment environment = {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}, {"BASH_ENV", bash_env}};
  const ProcessRun plain = run_command({"env"}, environment);
  const ProcessRun run =
      run_command({KASHIM_WRAPPER_PATH, "cgroup", "run", "--", "env"}, environment);
  std::filesystem::remove_all(directory);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(sorted_lines(run.out), sorted_lines(plain.out));
}

}  // namespace
}  // namespace kashim::testing
