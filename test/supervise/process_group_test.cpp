// The process group COMMAND runs in when there is no terminal (a script, cron, CI, a
// service). A supervisor that leads its group (a job its caller started in a group of its
// own) gives COMMAND a group of its own, so that a signal to the job reaches COMMAND once,
// forwarded (SuperviseProcess.SignalsAreForwardedOnce). One that does not lead its group
// leaves it to COMMAND instead, which then runs in its caller's group as without kashim.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

// Started by this test process, which leads no group of the supervisor's: COMMAND is in
// the caller's group, not a group leader, and setsid() works for it, as without kashim.
TEST(SuperviseProcessGroup, WithoutATerminalTheProgramStaysInItsCallersGroup) {
  const ProcessRun plain = run_supervised_probe({"process-group"}, kTuned, false);
  const ProcessRun supervised = run_supervised_probe({"process-group"}, kTuned);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(supervised.exit_code, 0) << supervised.err;
  EXPECT_EQ(plain.value("pgrp"), std::to_string(getpgrp()));
  EXPECT_EQ(supervised.value("pgrp"), plain.value("pgrp"));
  EXPECT_EQ(supervised.value("leads_group"), "0");
  EXPECT_EQ(supervised.value("sid"), plain.value("sid"));
  EXPECT_EQ(plain.value("setsid"), "ok");
  EXPECT_EQ(supervised.value("setsid"), "ok");
}

// The probe's `scenario` under the supervisor, started by a shell that leads the group (the
// job) and waits for it; the shell's handler for SIGTERM is not passed on to what it runs.
Background supervised_in_a_shells_job(const std::string& results, const std::string& scenario) {
  return start_background({"/bin/sh", "-c",
                           "trap : TERM; " + supervisor_path() + " -- " + SUPERVISE_PROBE_PATH +
                               " " + results + " " + scenario + "; exit $?"},
                          kTuned);
}

// A signal to the caller's group (a CI runner cancelling a job, timeout(1)) reaches COMMAND
// and its children, as without kashim, and COMMAND once: the supervisor is not in the group.
TEST(SuperviseProcessGroup, ASignalToTheCallersGroupReachesTheProgramsChildren) {
  const std::string results = scratch_path("group");
  Background job = supervised_in_a_shells_job(results, "signal-with-child");
  ASSERT_NE(job.wait_for_output("ready").find("ready"), std::string::npos) << job.err_text;
  ASSERT_EQ(kill(-job.pid, SIGTERM), 0);
  const int status = job.wait_status();
  ASSERT_TRUE(WIFEXITED(status)) << status << job.err_text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << job.err_text;
  const std::string text = read_file(results);
  EXPECT_NE(text.find("signal=15\n"), std::string::npos) << text;
  EXPECT_NE(text.find("child_signal=15\n"), std::string::npos) << text;
  std::filesystem::remove(results);
}

// Whether /proc/PID/stat shows the process stopped within `tries` looks, 10 ms apart.
bool becomes_stopped(pid_t pid, int tries) {
  for (int i = 0; i < tries; ++i) {
    if (read_file("/proc/" + std::to_string(pid) + "/stat").find(") T ") != std::string::npos) {
      return true;
    }
    usleep(10000);
  }
  return false;
}

pid_t value_after(const std::string& text, const std::string& key) {
  const std::size_t at = text.find(key + "=");
  return at == std::string::npos ? -1 : std::stoi(text.substr(at + key.size() + 1));
}

// A stop sent to the caller's group stops COMMAND (and the caller), not the supervisor,
// which is not in the group; the SIGCONT sent to the group then continues all that stopped.
// A supervisor that stopped too would never be continued: what is sent to it afterwards
// would never reach COMMAND. A stop sent to the supervisor stops both.
TEST(SuperviseProcessGroup, AStopSentToTheCallersGroupLeavesTheSupervisorRunning) {
  const std::string results = scratch_path("group-stop");
  Background job = supervised_in_a_shells_job(results, "wait-signal");
  ASSERT_NE(job.wait_for_output("ready").find("ready"), std::string::npos) << job.err_text;
  const std::string text = read_file(results);
  const pid_t program = value_after(text, "pid"), supervisor = value_after(text, "parent");
  ASSERT_GT(program, 0) << text;
  ASSERT_GT(supervisor, 0) << text;
  ASSERT_EQ(kill(-job.pid, SIGTSTP), 0);
  ASSERT_TRUE(becomes_stopped(program, 1000)) << "the program must stop with its group";
  // The supervisor learns of the stop at once (SIGCHLD); half a second is ample for a
  // supervisor that would wrongly stop itself to be seen stopped.
  EXPECT_FALSE(becomes_stopped(supervisor, 50));
  ASSERT_EQ(kill(-job.pid, SIGCONT), 0);
  // A stop sent to the supervisor itself is forwarded, and stops both, as its sender expects.
  ASSERT_EQ(kill(supervisor, SIGTSTP), 0);
  EXPECT_TRUE(becomes_stopped(supervisor, 1000));
  EXPECT_TRUE(becomes_stopped(program, 1000));
  ASSERT_EQ(kill(supervisor, SIGCONT), 0);
  ASSERT_EQ(kill(supervisor, SIGTERM), 0);  // forwarded to the program
  const int status = job.wait_status();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 100 + SIGTERM) << status;
  if (status == -1) kill(supervisor, SIGKILL);  // stuck: the program goes with it
  std::filesystem::remove(results);
}

}  // namespace
}  // namespace kashim::testing
