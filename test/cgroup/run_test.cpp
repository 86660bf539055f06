// `kashim cgroup run` as a command runner: the exit status and signals are the command's,
// the cgroup is gone afterwards, refusals are one line, and the wrapper reaches it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include "cgroup_fixture.hpp"

namespace kashim::testing {
namespace {

class CgroupRun : public ::testing::Test {
 protected:
  void SetUp() override { KASHIM_REQUIRE_CGROUP_ROUTE(); }
};

bool exists(const std::string& path) {
  struct stat status;
  return stat(path.c_str(), &status) == 0;
}

TEST_F(CgroupRun, ExitStatusIsTheCommands) {
  EXPECT_EQ(run_command(cgroup_run({"sh", "-c", "exit 7"}), kTuned).exit_code, 7);
  EXPECT_EQ(run_command(cgroup_run({"true"}), kTuned).exit_code, 0);
  // Killed by a signal: kashim-cgroup dies of the same signal, as the shell then reports.
  EXPECT_EQ(run_command(cgroup_run({"sh", "-c", "kill -TERM $$"}), kTuned).exit_code,
            128 + SIGTERM);
}

TEST_F(CgroupRun, CommandsThatCannotRunAreReportedAsEnvDoes) {
  const ProcessRun missing = run_command(cgroup_run({"kashim-no-such-command"}), kTuned);
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(missing.err, "kashim cgroup: kashim-no-such-command: command not found\n");
  const ProcessRun directory = run_command(cgroup_run({"/tmp"}), kTuned);
  EXPECT_EQ(directory.exit_code, 126);
  EXPECT_EQ(directory.err, "kashim cgroup: /tmp: Permission denied\n");
}

TEST_F(CgroupRun, SignalsSentToKashimReachTheCommand) {
  Child child(cgroup_run({"python3", "-c",
                          "import signal, sys\n"
                          "signal.signal(signal.SIGUSR1, lambda *_: sys.exit(3))\n"
                          "print('ready', flush=True)\n"
                          "signal.pause()\n"}),
              kTuned);
  ASSERT_EQ(child.out_line(), "ready");
  kill(child.pid(), SIGUSR1);
  EXPECT_EQ(child.wait(), 3) << child.rest_of_err();
}

TEST_F(CgroupRun, TheCgroupIsRemovedWhenTheCommandExits) {
  const ProcessRun run = run_command(cgroup_run({"cat", "/proc/self/cgroup"}), kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string relative;
  for (const std::string& line : lines_of(run.out)) {
    if (line.rfind("0::", 0) == 0) relative = line.substr(3);
  }
  ASSERT_NE(relative.find("/kashim-run."), std::string::npos) << run.out;
  EXPECT_FALSE(exists(cgroup2_mount_point() + relative)) << relative;
}

TEST_F(CgroupRun, ProcessesLeftRunningAreMovedOutAndTheCgroupRemoved) {
  const ProcessRun run =
      run_command(cgroup_run({"sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"}), kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string pid = lines_of(run.out).at(0);
  const std::string membership = read_file("/proc/" + pid + "/cgroup");
  kill(std::stoi(pid), SIGKILL);
  EXPECT_EQ(membership.find("kashim-run."), std::string::npos) << membership;
  EXPECT_NE(run.err.find("1 process left running by sh moved to"), std::string::npos) << run.err;
}

TEST_F(CgroupRun, InvalidConfigurationIsOneLineAndNothingRuns) {
  const ProcessRun run =
      run_command(cgroup_run({"sh", "-c", "echo ran"}), {{"KASHIM_IDLE", "forever"}});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(lines_of(run.err).size(), 1u) << run.err;
  EXPECT_NE(run.err.find("KASHIM_IDLE"), std::string::npos) << run.err;
}

TEST_F(CgroupRun, WithoutPrivilegesItRefusesInOneLine) {
  KASHIM_REQUIRE(exists("/usr/bin/setpriv"), "setpriv (util-linux)");
  std::vector<std::string> argv = {"setpriv",        "--reuid=65534",   "--regid=65534",
                                   "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"};
  for (const std::string& word : cgroup_run({"sh", "-c", "echo ran"})) argv.push_back(word);
  const ProcessRun run = run_command(argv, kTuned);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  ASSERT_EQ(lines_of(run.err).size(), 1u) << run.err;
  EXPECT_NE(run.err.find("run it as root"), std::string::npos) << run.err;
}

TEST_F(CgroupRun, WithoutACgroup2MountItRefusesInOneLine) {
  KASHIM_REQUIRE(exists("/usr/bin/unshare"), "unshare (util-linux)");
  // A private mount namespace without the cgroup2 mount: nothing else is affected.
  std::string command = "umount " + cgroup2_mount_point() + " && exec";
  for (const std::string& word : cgroup_run({"sh", "-c", "echo ran"})) command += " " + word;
  const ProcessRun run = run_command({"unshare", "--mount", "sh", "-c", command}, kTuned);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "kashim cgroup: no cgroup v2 file system is mounted (/proc/self/mountinfo lists none):"
            " kashim cgroup needs the unified hierarchy (mount -t cgroup2 none /sys/fs/cgroup)\n");
}

TEST_F(CgroupRun, TheWrapperPassesItsOptions) {
  const std::string client = test_program("static_client");
  KASHIM_REQUIRE_PROGRAM(client);
  Listener listener("127.0.0.1");
  Child child({KASHIM_WRAPPER_PATH, "cgroup", "run", "--idle", "41", "--cnt", "2", "--", client,
               "127.0.0.1", listener.port_text()},
              {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}});
  const int accepted = listener.accept_one();
  ASSERT_GE(accepted, 0);
  auto values = values_in(child.err_line());
  close(accepted);
  EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  EXPECT_EQ(values["keepalive"], 1);
  EXPECT_EQ(values["idle"], 41);
  EXPECT_EQ(values["cnt"], 2);
  EXPECT_EQ(values["intvl"], untouched_values()["intvl"]);
}

}  // namespace
}  // namespace kashim::testing
