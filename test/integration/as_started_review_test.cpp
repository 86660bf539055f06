// Review of the start-up of 2026-11-26 (shim/kept_at_start.*): where the configuration a
// process gets at its first hooked call is not the one it started with, or depends on
// things it should not. Each run is compared with the same program without the shim.
// DISABLED_ tests fail today (defects reported to the lead); the others pass.
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

ProcessRun with_values(ProcessRun run) {
  for (const std::string& line : lines_of(run.out)) {
    const auto equals = line.find('=');
    if (equals != std::string::npos) run.values[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return run;
}

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

// The constructor keeps at most 32 entries beginning KASHIM_, KEEP or LISTEN_, names it
// does not read included; later ones are dropped without a word. getenv() finds them all.
TEST(AsStartedReview, DISABLED_ThirtyTwoOtherListenVariablesDoNotHideTheConfiguration) {
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

// The 1 KiB of copies is spent on every entry beginning LISTEN_/KEEP/KASHIM_; what comes
// after is kept by reference, and a process title written over the environment (as
// setproctitle does) then erases it.
TEST(AsStartedReview,
     DISABLED_OtherListenVariablesFillingTheCopiesDoNotLeaveKashimDisableToATitle) {
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
// clearenv() leaves `environ` NULL: the shim then keeps nothing and reads the environment as
// it is at the first hooked call, so what main() put there counts, unlike a program that
// clears its environment in main() (AsStarted.*).
TEST(AsStartedReview, DISABLED_AnEnvironmentClearedBeforeTheShimsConstructorIsTheOneThatCounts) {
  KASHIM_REQUIRE(access("/usr/bin/python3", X_OK) == 0, "python3");
  const std::string later_disable =
      "import os, socket\n"
      "os.environ.clear()\n"
      "os.environ['KASHIM_DISABLE'] = '1'\n"
      "s = socket.socket()\n"
      "print('keepalive=%d' % s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))\n";
  ProcessRun in_main = with_values(run_command({"python3", "-c", later_disable},
                                               with(kTuned, "LD_PRELOAD", KASHIM_LIBRARY_PATH)));
  ASSERT_EQ(in_main.exit_code, 0) << in_main.err;
  EXPECT_EQ(in_main.value("keepalive"), "1") << "as started (AsStarted.*)";

  const std::string preload =
      std::string(KASHIM_LIBRARY_PATH) + ":" + KASHIM_CLEARENV_AT_START_PATH;
  ProcessRun in_constructor = with_values(
      run_command({"python3", "-c", later_disable}, with(kTuned, "LD_PRELOAD", preload)));
  ASSERT_EQ(in_constructor.exit_code, 0) << in_constructor.err;
  EXPECT_EQ(in_constructor.value("keepalive"), in_main.value("keepalive"))
      << "main()'s KASHIM_DISABLE=1 counted because environ was NULL at the shim's constructor";
}

// The constructor asks for the report at start only for exactly "1"; the parser trims, so
// " 1" makes a report at the program's first socket call, in the middle of its run, and
// none in a program that opens no socket. Either at start or never; not depending on what
// the program does.
TEST(AsStartedReview, DISABLED_KashimCheckWithABlankReportsAtStartOrNotAtAll) {
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

// Any LISTEN_FDS makes the constructor parse (review D6's class: only KASHIM_CHECK=1 was
// narrowed): empty, 0, or meant for another process (LISTEN_PID, inherited by a
// socket-activated service's children), a process that opens no socket reads the
// configuration at start and reports its mistake.
TEST(AsStartedReview, DISABLED_ListenFdsNotForThisProcessLeavesTheConfigurationToTheFirstCall) {
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

// A setuid program (AT_SECURE) leaves the shim inert and silent (Privileged.*), but its
// constructor still looks /etc/kashim.conf up with the program's privileges: an access
// strace, auditd or fanotify sees, which the program makes nowhere without the shim.
TEST(AsStartedReview, DISABLED_ASetuidProgramDoesNotLookForTheConfigurationFile) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime makes system calls of its own");
  KASHIM_REQUIRE(geteuid() == 0, "root (to make a setuid-root helper)");
  KASHIM_REQUIRE(run_command({"strace", "-V"}, {}).exit_code == 0, "strace");
  KASHIM_REQUIRE(getpwnam("nobody") != nullptr, "the user nobody");
  const std::string directory = scratch_path("setuid");
  ASSERT_EQ(mkdir(directory.c_str(), 0755), 0);
  const std::string helper = directory + "/probe";
  std::filesystem::copy_file(KASHIM_LINKED_PROBE_PATH, helper);
  ASSERT_EQ(chown(helper.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(helper.c_str(), 04755), 0);
  const std::string trace = directory + "/trace";
  auto traced = [&](const std::vector<std::string>& as_user) {
    std::vector<std::string> launcher = {"strace", "-f", "-qq", "-e", "trace=%file", "-o", trace};
    launcher.insert(launcher.end(), as_user.begin(), as_user.end());
    return run_probe_program(launcher, helper, {"socket", "v4", "stream"}, kTuned);
  };
  // The premise: run by root it is not privileged, the shim works, and the trace shows
  // the look-up.
  ProcessRun ordinary = traced({});
  EXPECT_EQ(ordinary.value("keepalive"), "1");
  EXPECT_NE(read_file(trace).find("\"/etc/kashim.conf\""), std::string::npos) << "no look-up seen";
  // Run as nobody (strace -u keeps the set-user-ID bit working): AT_SECURE.
  ProcessRun secure = traced({"-u", "nobody"});
  const std::string calls = read_file(trace);
  std::filesystem::remove_all(directory);
  EXPECT_EQ(secure.value("keepalive"), "0") << "the premise: inert under AT_SECURE";
  for (const std::string& call : lines_of(calls)) {
    EXPECT_EQ(call.find("\"/etc/kashim.conf\""), std::string::npos) << call;
  }
}

// AsStarted.AProgramThatChrootsBeforeItsFirstSocketDoesNotReadItsNewRootsFile cannot fail:
// the new root's file sets idle, which KASHIM_IDLE from the environment overrides whether
// the file is read or not. Here the file sets what the environment leaves unset (disable),
// and the premise shows that a read of it is seen.
TEST(AsStartedReview, AProgramThatChrootsDoesNotReadItsNewRootsFileForAKeyTheEnvironmentLeaves) {
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
