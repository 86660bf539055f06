// What the process started with stands at its first hooked call: the functions behind the
// hooks (found even from a signal handler that interrupts the look-up), and the
// configuration (kept at start, whatever the program does to its environment, its root, its
// user or its system calls before its first socket). Each run is compared with the same
// program without the shim.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <string>
#include <vector>

#include "harness.hpp"

namespace kashim::testing {
namespace {

// kashim_review_first_call (test/helpers/start_review.cpp): a SIGSEGV arrives exactly while
// the shim reads the symbol table of the interposer behind it, at the process's first
// socket(); the handler calls socket() itself. Every call must reach that interposer once:
// the handler's call walks the tables again (they are only read) rather than taking the
// system call because a look-up is under way on its thread (made=2, traced=1).
TEST(FirstCall, ASignalHandlersSocketCallDuringTheFirstLookUpReachesTheInterposerBehind) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime binds and looks symbols up at run time");
  const Environment environment =
      with(with(kTuned, "LD_BIND_NOW", "1"), "KASHIM_REVIEW_FAULT", "1");
  ProcessRun without = with_values(run_command({KASHIM_REVIEW_FIRST_CALL_PATH}, environment));
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_EQ(without.value("fault"), "0") << "nothing reads the table without the shim";
  EXPECT_EQ(without.value("made"), without.value("traced"));

  ProcessRun run = with_values(run_command({KASHIM_REVIEW_FIRST_CALL_PATH},
                                           with(environment, "LD_PRELOAD", KASHIM_LIBRARY_PATH)));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.value("fault"), "1") << "the signal must arrive during the shim's look-up";
  EXPECT_EQ(run.value("made"), "2");
  EXPECT_EQ(run.value("traced"), run.value("made"))
      << "a socket() made in the handler went past the interposer behind the shim";
  EXPECT_EQ(run.err, "");
}

// The configuration is the environment the process started with (and the constructor
// scanned), whatever the program does to its environment before its first socket call.
// (A program that drops them first: postfix's clean_env, Python's os.environ.clear(), a
// sandboxing wrapper; read at the first hooked call, they gave the built-in defaults, idle
// 7200, and tuning although KASHIM_DISABLE=1 asked for nothing to change.)
TEST(AsStarted, AProgramThatDropsTheVariablesBeforeItsFirstSocketKeepsItsConfiguration) {
  const std::vector<std::string> drop_tuning = {
      KASHIM_REVIEW_FIRST_CALL_PATH, "unsetenv", "KASHIM_IDLE", "KASHIM_INTVL", "KASHIM_CNT",
      "KASHIM_USER_TIMEOUT"};
  ProcessRun run =
      with_values(run_command(drop_tuning, with(kTuned, "LD_PRELOAD", KASHIM_LIBRARY_PATH)));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("keepalive"), "1");
  EXPECT_EQ(run.value("idle"), "31") << "KASHIM_IDLE as the process started with it";

  const std::vector<std::string> drop_disable = {KASHIM_REVIEW_FIRST_CALL_PATH, "unsetenv",
                                                 "KASHIM_DISABLE"};
  const Environment disabled = {{"KASHIM_DISABLE", "1"}};
  ProcessRun without = with_values(run_command(drop_disable, disabled));
  ProcessRun off =
      with_values(run_command(drop_disable, with(disabled, "LD_PRELOAD", KASHIM_LIBRARY_PATH)));
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(without.value("keepalive"), "0");
  EXPECT_EQ(off.value("keepalive"), without.value("keepalive")) << "KASHIM_DISABLE=1 ignored";
  EXPECT_EQ(off.value("idle"), without.value("idle"));
}

TEST(AsStarted, AProgramThatWritesItsTitleOverItsEnvironmentKeepsItsConfiguration) {
  ProcessRun run = with_values(run_command({KASHIM_REVIEW_FIRST_CALL_PATH, "retitle"},
                                           with(kTuned, "LD_PRELOAD", KASHIM_LIBRARY_PATH)));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("keepalive"), "1");
  EXPECT_EQ(run.value("idle"), "31") << "KASHIM_IDLE as the process started with it";
  EXPECT_EQ(run.err, "");
}

// What the file says (a mistake included) is reported when the program first calls a socket
// function, as for the variables: never by a process that opens no socket.
TEST(AsStarted, AFilesMistakeIsReportedAtTheFirstSocketCallOnly) {
  const std::string file = scratch_path("kashim.conf");
  {
    std::FILE* out = std::fopen(file.c_str(), "w");
    ASSERT_NE(out, nullptr);
    std::fputs("idle = soon\n", out);
    std::fclose(out);
  }
  const Environment environment = {{"KASHIM_CONFIG", file}, {"LD_PRELOAD", KASHIM_LIBRARY_PATH}};
  ProcessRun quiet = run_command({"/bin/true"}, environment);
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.err, "") << "no socket, no line";
  ProcessRun run =
      with_values(run_command({KASHIM_REVIEW_FIRST_CALL_PATH, "unsetenv"}, environment));
  unlink(file.c_str());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("keepalive"), "0") << "inert after the mistake";
  EXPECT_EQ(run.err.rfind("kashim: " + file + ":1: idle = soon is not a duration (accepted: ", 0),
            0u)
      << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << "one line";
}

// Only KASHIM_CHECK=1 asks for the report at start; any other value leaves the configuration
// to the first hooked call, so a process that opens no socket stays silent.
TEST(AsStarted, OnlyKashimCheckOneReportsAtStart) {
  for (const char* value : {"0", "", "yes"}) {
    ProcessRun run = run_command(
        {"/bin/true"},
        {{"LD_PRELOAD", KASHIM_LIBRARY_PATH}, {"KASHIM_CHECK", value}, {"KASHIM_IDLE", "soon"}});
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_EQ(run.err, "") << "KASHIM_CHECK=" << value;
  }
  ProcessRun run = run_command(
      {"/bin/true"},
      {{"LD_PRELOAD", KASHIM_LIBRARY_PATH}, {"KASHIM_CHECK", "1"}, {"KASHIM_IDLE", "soon"}});
  EXPECT_NE(run.err.find("KASHIM_IDLE=soon"), std::string::npos) << run.err;
}

// A program that confines itself before its first socket must meet the configuration it
// was started with, and must not be killed for it: /etc/kashim.conf is looked for at start,
// and a first hooked call without one opens nothing (shim/kept_at_start.hpp). Opened at the
// first call instead, a seccomp filter refusing open killed the program there (SIGSYS, exit
// 159).
TEST(AsStarted, AProgramThatForbidsOpenBeforeItsFirstSocketIsNotKilled) {
  const std::vector<std::string> sandboxed = {KASHIM_REVIEW_FIRST_CALL_PATH, "no-open"};
  ProcessRun without = with_values(run_command(sandboxed, kTuned));
  ASSERT_EQ(without.exit_code, 0) << without.err;
  ProcessRun run =
      with_values(run_command(sandboxed, with(kTuned, "LD_PRELOAD", KASHIM_LIBRARY_PATH)));
  EXPECT_EQ(run.exit_code, 0) << "killed at its first socket(): " << run.err;
  EXPECT_EQ(run.value("keepalive"), "1");
  EXPECT_EQ(run.value("idle"), "31");
}

}  // namespace
}  // namespace kashim::testing
