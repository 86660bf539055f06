// The environment a process started with, as the constructor keeps it (shim/kept_at_start.*):
// only the names kashim reads, the first definition of each, whatever else the environment
// holds or whatever happens to it before the first hooked call. Each run is compared with
// the same program without the shim.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

namespace kashim::testing {
namespace {

ProcessRun first_call(const std::vector<std::string>& arguments, const Environment& environment) {
  std::vector<std::string> argv = {KASHIM_REVIEW_FIRST_CALL_PATH};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return with_values(run_command(argv, environment));
}

// Entries whose names begin as kashim's do (LISTEN_) but that kashim does not read: a
// container's LISTEN_ADDRESS, LISTEN_PORT...
Environment other_listen_variables(int count) {
  Environment environment;
  for (int i = 0; i < count; ++i)
    environment.emplace_back("LISTEN_REVIEW_" + std::to_string(i), "1");
  return environment;
}

Environment joined(Environment first, const Environment& second) {
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

// Many other variables beginning as kashim's do (LISTEN_ADDRESS, LISTEN_PORT, ...) take no
// room from kashim's own.
TEST(AsStartedEnvironment, ThirtyTwoOtherListenVariablesDoNotHideTheConfiguration) {
  const Environment others = other_listen_variables(32);
  const Environment disabled = joined(others, {{"KASHIM_DISABLE", "1"}});
  ProcessRun without = first_call({"unsetenv"}, disabled);
  ProcessRun off = first_call({"unsetenv"}, with(disabled, "LD_PRELOAD", KASHIM_LIBRARY_PATH));
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(without.value("keepalive"), "0");
  EXPECT_EQ(off.value("keepalive"), without.value("keepalive")) << "KASHIM_DISABLE=1 ignored";

  ProcessRun tuned =
      first_call({"unsetenv"}, with(joined(others, kTuned), "LD_PRELOAD", KASHIM_LIBRARY_PATH));
  EXPECT_EQ(tuned.value("idle"), "31") << "KASHIM_IDLE=31 ignored";

  ProcessRun check = run_command({"/bin/true"}, with(joined(others, {{"KASHIM_CHECK", "1"}}),
                                                     "LD_PRELOAD", KASHIM_LIBRARY_PATH));
  EXPECT_EQ(check.err.rfind("kashim " KASHIM_VERSION ": ", 0), 0u) << "no report: " << check.err;
}

// Nor do long ones: KASHIM_DISABLE is copied, and a process title written over the
// environment (as setproctitle does) cannot erase it.
TEST(AsStartedEnvironment, OtherListenVariablesFillingTheCopiesDoNotLeaveKashimDisableToATitle) {
  const Environment disabled = {{"LISTEN_REVIEW_PAD", std::string(1000, 'a')},
                                {"KASHIM_DISABLE", "1"}};
  ProcessRun without = first_call({"retitle"}, disabled);
  ProcessRun off = first_call({"retitle"}, with(disabled, "LD_PRELOAD", KASHIM_LIBRARY_PATH));
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(without.value("keepalive"), "0");
  EXPECT_EQ(off.value("keepalive"), without.value("keepalive"))
      << "KASHIM_DISABLE=1 lost to the process title";
}

// A constructor that runs before the shim's (LD_PRELOAD=libkashim.so:other.so) and calls
// clearenv() leaves `environ` NULL; glibc still hands the shim's constructor the environment
// the process started with, so what main() puts there later does not count, as for a
// program that clears its environment in main() (AsStarted.*).
TEST(AsStartedEnvironment, AnEnvironmentClearedBeforeTheShimsConstructorIsTheOneThatCounts) {
  KASHIM_REQUIRE(access("/usr/bin/python3", X_OK) == 0, "python3");
  const std::string later_disable =
      "import os, socket\n"
      "os.environ.clear()\n"
      "os.environ['KASHIM_DISABLE'] = '1'\n"
      "s = socket.socket()\n"
      "print('keepalive=%d' % s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))\n";
  ProcessRun in_main = with_values(run_command({"/usr/bin/python3", "-c", later_disable},
                                               with(kTuned, "LD_PRELOAD", KASHIM_LIBRARY_PATH)));
  ASSERT_EQ(in_main.exit_code, 0) << in_main.err;
  EXPECT_EQ(in_main.value("keepalive"), "1") << "as started (AsStarted.*)";

  const std::string preload =
      std::string(KASHIM_LIBRARY_PATH) + ":" + KASHIM_CLEARENV_AT_START_PATH;
  ProcessRun in_constructor = with_values(
      run_command({"/usr/bin/python3", "-c", later_disable}, with(kTuned, "LD_PRELOAD", preload)));
  ASSERT_EQ(in_constructor.exit_code, 0) << in_constructor.err;
  EXPECT_EQ(in_constructor.value("keepalive"), in_main.value("keepalive"))
      << "main()'s KASHIM_DISABLE=1 counted because environ was NULL at the shim's constructor";
}

// KASHIM_CHECK is read as the parser reads it (blanks trimmed): " 1" reports at start, not
// in the middle of the program's run at its first socket call.
TEST(AsStartedEnvironment, KashimCheckWithABlankReportsAtStartOrNotAtAll) {
  const std::string report = "kashim " KASHIM_VERSION ": ";
  for (const char* value : {" 1", "1 ", "\t1"}) {
    const Environment environment = {
        {"LD_PRELOAD", KASHIM_LIBRARY_PATH}, {"KASHIM_CHECK", value}, {"KASHIM_IDLE", "31"}};
    ProcessRun no_socket = run_command({"/bin/true"}, environment);
    ProcessRun socket = first_call({"unsetenv"}, environment);
    EXPECT_EQ(no_socket.err.find(report) != std::string::npos,
              socket.err.find(report) != std::string::npos)
        << "KASHIM_CHECK='" << value << "'\nno socket: " << no_socket.err
        << "\nfirst socket: " << socket.err;
  }
}

// Only LISTEN_FDS meant for this process (a positive count, LISTEN_PID its own) makes the
// constructor parse: empty, 0, or another process's (a socket-activated service's children
// inherit the variables) leave it to the first hooked call, so a process that opens no
// socket reports no mistake.
TEST(AsStartedEnvironment, ListenFdsNotForThisProcessLeavesTheConfigurationToTheFirstCall) {
  const Environment listen_fds[] = {
      {{"LISTEN_FDS", ""}}, {{"LISTEN_FDS", "0"}}, {{"LISTEN_FDS", "1"}, {"LISTEN_PID", "1"}}};
  for (const Environment& systemd : listen_fds) {
    const Environment environment =
        with(with(systemd, "KASHIM_IDLE", "soon"), "LD_PRELOAD", KASHIM_LIBRARY_PATH);
    ProcessRun run = run_command({"/bin/true"}, environment);
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_EQ(run.err, "") << "LISTEN_FDS=" << systemd[0].second << ": no socket, no line";
  }
}

// Without /etc/kashim.conf at start, the first hooked call does not look for one: a program
// that chroots into a tree with its own file does not read it. The file sets what the
// environment leaves unset (disable), and the premise shows that a read of it is seen.
TEST(AsStartedEnvironment,
     AProgramThatChrootsDoesNotReadItsNewRootsFileForAKeyTheEnvironmentLeaves) {
  KASHIM_REQUIRE(geteuid() == 0, "root (for chroot)");
  KASHIM_REQUIRE(access("/etc/kashim.conf", F_OK) != 0, "no /etc/kashim.conf on this host");
  const std::string jail = scratch_path("jail");
  ASSERT_EQ(mkdir(jail.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((jail + "/etc").c_str(), 0755), 0);
  {
    std::FILE* out = std::fopen((jail + "/etc/kashim.conf").c_str(), "w");
    ASSERT_NE(out, nullptr);
    std::fputs("disable = 1\n", out);
    std::fclose(out);
  }
  const Environment environment = with(kTuned, "LD_PRELOAD", KASHIM_LIBRARY_PATH);
  // The premise: a file KASHIM_CONFIG names is read at the first hooked call (a documented
  // limit), in the new root: the probe sees that read.
  ProcessRun named =
      first_call({"chroot", jail}, with(environment, "KASHIM_CONFIG", "/etc/kashim.conf"));
  ProcessRun run = first_call({"chroot", jail}, environment);
  std::filesystem::remove_all(jail);
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(named.value("keepalive"), "0") << "the new root's file was not read: no premise";
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("keepalive"), "1") << "the new root's file was read";
  EXPECT_EQ(run.value("idle"), "31");
  EXPECT_EQ(run.err, "");
}

}  // namespace
}  // namespace kashim::testing
