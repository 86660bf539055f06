// The process group COMMAND runs in when there is no terminal (a script, cron, CI, a
// service). A supervisor that leads its group (a job its caller started in a group of its
// own) gives COMMAND a group of its own, so that a signal to the job reaches COMMAND once,
// forwarded (SuperviseProcess.SignalsAreForwardedOnce). One that does not lead its group
// leaves it to COMMAND instead, which then runs in its caller's group as without kashim.
#include <gtest/gtest.h>
#include <signal.h>
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

// A signal to the caller's group (a CI runner cancelling a job, timeout(1)) reaches COMMAND
// and its children, as without kashim, and COMMAND once: the supervisor is not in the group.
TEST(SuperviseProcessGroup, ASignalToTheCallersGroupReachesTheProgramsChildren) {
  const std::string results = scratch_path("group");
  // sh leads the group (the job) and waits for the supervisor, which it forks; its handler
  // for SIGTERM is not passed on to what it runs.
  Background job =
      start_background({"/bin/sh", "-c",
                        "trap : TERM; " + supervisor_path() + " -- " + SUPERVISE_PROBE_PATH + " " +
                            results + " signal-with-child; exit $?"},
                       kTuned);
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

}  // namespace
}  // namespace kashim::testing
