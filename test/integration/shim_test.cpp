// libkashim.so preloaded into a real program (kashim_probe), proven by what the kernel
// reports back with getsockopt.
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace kashim::testing {
namespace {

void expect_kernel_defaults(const ProcessRun& run, const std::string& prefix = "") {
  EXPECT_EQ(run.value(prefix + "keepalive"), "0");
  EXPECT_EQ(run.value(prefix + "user_timeout"), "0");
}

TEST(Baseline, WithoutTheShimSocketsHaveNoKeepalive) {
  ProcessRun run = run_probe({"socket", "v4", "stream"}, kTuned, /*preload=*/false);
  expect_clean(run);
  expect_kernel_defaults(run);
}

class TcpSockets : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(TcpSockets, AreTunedWithTheConfiguredValues) {
  if (GetParam()[1] == "v6") KASHIM_REQUIRE_IPV6();
  std::vector<std::string> scenario(GetParam().begin() + 1, GetParam().end());
  scenario.insert(scenario.begin(), "socket");
  ProcessRun run = run_probe(scenario, kTuned);
  expect_clean(run);
  expect_tuned(run);
  EXPECT_EQ(run.value("errno_after"), "4242");
  bool nonblock = std::find(GetParam().begin(), GetParam().end(), "nonblock") != GetParam().end();
  EXPECT_EQ(run.value("nonblock"), nonblock ? "1" : "0") << "creation flags are kept";
}

INSTANTIATE_TEST_SUITE_P(Shim, TcpSockets,
                         ::testing::Values(std::vector<std::string>{"plain", "v4", "stream"},
                                           std::vector<std::string>{"plain", "v6", "stream"},
                                           std::vector<std::string>{"tcp", "v4", "stream", "tcp"},
                                           std::vector<std::string>{"nonblock", "v4", "stream",
                                                                    "nonblock"},
                                           std::vector<std::string>{"flags", "v6", "stream", "tcp",
                                                                    "cloexec", "nonblock"}),
                         [](const auto& info) { return info.param[0] + "_" + info.param[1]; });

class OtherSockets : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(OtherSockets, AreNeverTouched) {
  std::vector<std::string> scenario = GetParam();
  scenario.insert(scenario.begin(), "socket");
  ProcessRun run = run_probe(scenario, kTuned);
  expect_clean(run);
  EXPECT_EQ(run.value("keepalive"), "0");
}

INSTANTIATE_TEST_SUITE_P(Shim, OtherSockets,
                         ::testing::Values(std::vector<std::string>{"v4", "dgram"},
                                           std::vector<std::string>{"v6", "dgram", "nonblock"},
                                           std::vector<std::string>{"unix", "stream"},
                                           std::vector<std::string>{"unix", "dgram"}),
                         [](const auto& info) { return info.param[0] + "_" + info.param[1]; });

class Connect : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(Connect, ClientSideIsTuned) {
  auto [family, blocking] = GetParam();
  if (family == "v6") KASHIM_REQUIRE_IPV6();
  ProcessRun run = run_probe({"connect", family, blocking}, kTuned);
  expect_clean(run);
  if (blocking == "blocking") {
    EXPECT_EQ(run.value("connect"), "ok:0");
    EXPECT_EQ(run.value("errno_after"), "4242");
  } else {
    EXPECT_EQ(run.value("connect"), "fail:EINPROGRESS");
  }
  EXPECT_EQ(run.value("so_error"), "0");
  expect_tuned(run);
}

INSTANTIATE_TEST_SUITE_P(
    Shim, Connect,
    ::testing::Values(std::pair{"v4", "blocking"}, std::pair{"v4", "nonblocking"},
                      std::pair{"v6", "blocking"}, std::pair{"v6", "nonblocking"}),
    [](const auto& info) { return info.param.first + "_" + info.param.second; });

class Accept : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(Accept, AcceptedConnectionsAreTunedThroughTheListener) {
  auto [family, call] = GetParam();
  if (family == "v6") KASHIM_REQUIRE_IPV6();
  ProcessRun run = run_probe({"accept", family, call}, kTuned);
  expect_clean(run);
  expect_tuned(run);
  EXPECT_EQ(run.value("errno_after"), "4242");
  EXPECT_EQ(run.value("peer_port_matches"), "1") << "the peer address reaches the program";
  EXPECT_EQ(run.value("nonblock"), call == "accept4" ? "1" : "0");
  EXPECT_EQ(run.value("cloexec"), call == "accept4" ? "1" : "0");
  // The client was made behind the shim's back: proof that the listener did the work.
  expect_kernel_defaults(run, "client_");
}

INSTANTIATE_TEST_SUITE_P(Shim, Accept,
                         ::testing::Values(std::pair{"v4", "accept"}, std::pair{"v4", "accept4"},
                                           std::pair{"v6", "accept"}, std::pair{"v6", "accept4"}),
                         [](const auto& info) {
                           return info.param.first + "_" + info.param.second;
                         });

TEST(Modes, ForceReplacesTheProgramsOwnValuesAndTheCallsSucceed) {
  ProcessRun run = run_probe({"override"}, kTuned);
  expect_clean(run);
  for (const char* option : {"keepalive", "idle", "intvl", "cnt", "user_timeout"}) {
    EXPECT_EQ(run.value(std::string("set_") + option), "ok:0") << option;
    EXPECT_EQ(run.value(std::string("errno_after_") + option), "4242") << option;
  }
  expect_tuned(run);
  EXPECT_EQ(run.value("set_idle_zero"), "fail:EINVAL") << "invalid values keep the kernel's error";
  EXPECT_EQ(run.value("set_cnt_huge"), "fail:EINVAL");
  EXPECT_EQ(run.value("udp_keepalive"), "0") << "SO_KEEPALIVE on UDP is the program's business";
  EXPECT_EQ(run.value("unix_keepalive"), "0");
}

// Another interposer behind the shim (a tracer, a second shim) sees every call kashim makes,
// the operator's value last.
// The TCP_KEEPINTVL values an interposer behind the shim (libkashim_behind.so) was passed
// while the probe's override scenario ran with its values `where`.
std::vector<std::string> intervals_seen_behind(const std::string& where) {
  const auto [calls, run] = calls_behind({"override", where}, kTuned, /*shim=*/true);
  expect_clean(run);
  expect_tuned(run);
  EXPECT_EQ(run.value("set_intvl"), "ok:0");
  std::vector<std::string> intervals;
  for (const std::string& call : calls) {
    if (call.starts_with(std::to_string(TCP_KEEPINTVL) + "=")) intervals.push_back(call);
  }
  return intervals;
}

TEST(Modes, AnInterposerBehindTheShimSeesEveryCallAndTheOperatorsValueLast) {
  const std::string prefix = std::to_string(TCP_KEEPINTVL) + "=";
  // The shim's own call at socket(), the program's 1 (a value the shim does not read
  // before the kernel), the operator's 7 again.
  EXPECT_EQ(intervals_seen_behind("far"),
            (std::vector<std::string>{prefix + "7", prefix + "1", prefix + "7"}));
  // A value the shim reads: the program's call carries the operator's 7 in place of its 1.
  EXPECT_EQ(intervals_seen_behind("near"), (std::vector<std::string>{prefix + "7", prefix + "7"}));
}

TEST(Modes, ForceLeavesOptionsThatAreNotConfiguredToTheProgram) {
  ProcessRun run = run_probe({"override"}, {{"KASHIM_IDLE", "31"}});
  expect_clean(run);
  EXPECT_EQ(run.value("keepalive"), "1");
  EXPECT_EQ(run.value("idle"), "31");
  EXPECT_EQ(run.value("intvl"), "1");
  EXPECT_EQ(run.value("cnt"), "10");
  EXPECT_EQ(run.value("user_timeout"), "1234");
}

TEST(Modes, FallbackLetsTheProgramsOwnValuesWin) {
  Environment environment = kTuned;
  environment.emplace_back("KASHIM_MODE", "fallback");
  ProcessRun run = run_probe({"override"}, environment);
  expect_clean(run);
  EXPECT_EQ(run.value("keepalive"), "0");
  EXPECT_EQ(run.value("idle"), "1000");
  EXPECT_EQ(run.value("intvl"), "1");
  EXPECT_EQ(run.value("cnt"), "10");
  EXPECT_EQ(run.value("user_timeout"), "1234");
}

TEST(Modes, FallbackStillTunesAtCreation) {
  Environment environment = kTuned;
  environment.emplace_back("KASHIM_MODE", "fallback");
  ProcessRun run = run_probe({"socket", "v4", "stream"}, environment);
  expect_clean(run);
  expect_tuned(run);
}

// The same calls, failing and succeeding, with and without the shim: return values,
// errno and descriptor numbers must be identical.
TEST(Fidelity, EveryCallReturnsWhatTheRealCallReturns) {
  ProcessRun without = run_probe({"errors"}, kTuned, /*preload=*/false);
  ASSERT_EQ(without.exit_code, 0) << without.err;
  ASSERT_GT(without.values.size(), 25u);
  EXPECT_EQ(without.value("socket_emfile"), "fail:EMFILE") << "the matrix itself is sound";
  EXPECT_EQ(without.value("connect_refused"), "fail:ECONNREFUSED");
  EXPECT_EQ(without.value("connect_nonblocking"), "fail:EINPROGRESS");
  for (const char* mode : {"force", "fallback"}) {
    Environment environment = kTuned;
    environment.emplace_back("KASHIM_MODE", mode);
    ProcessRun with = run_probe({"errors"}, environment);
    expect_clean(with);
    EXPECT_EQ(with.values, without.values) << "mode " << mode;
    // With a filter the decisions move into connect() and accept(); they must be as
    // invisible there.
    environment.emplace_back("KASHIM_PEERS", "127.0.0.0/8");
    with = run_probe({"errors"}, environment);
    expect_clean(with);
    EXPECT_EQ(with.values, without.values) << "mode " << mode << " with KASHIM_PEERS";
  }
}

TEST(Fidelity, FailingSetsockoptOfTheShimsOwnIsInvisible) {
  // A seccomp filter refuses every setsockopt with EPERM: socket() still succeeds with
  // errno untouched, and the operator gets one error line, not one per socket.
  ProcessRun run = run_probe({"seccomp"}, kTuned);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "");
  for (const char* i : {"0", "1", "2"}) {
    EXPECT_EQ(run.value(std::string("socket_") + i), "ok");
    EXPECT_EQ(run.value(std::string("errno_after_") + i), "4242");
    EXPECT_EQ(run.value(std::string("keepalive_") + i), "0");
  }
  std::vector<std::string> lines = lines_of(run.err);
  ASSERT_EQ(lines.size(), 1u) << run.err;
  EXPECT_TRUE(lines[0].starts_with("kashim: fd ")) << lines[0];
  EXPECT_TRUE(lines[0].ends_with(
      ": keep-alive options could not be set, errno 1 (EPERM); the program goes on untuned "
      "(further failures are logged at KASHIM_LOG=info)"))
      << lines[0];
}

TEST(BadInput, OneErrorLineThenInert) {
  ProcessRun run =
      run_probe({"socket", "v4", "stream"}, {{"KASHIM_IDLE", "30"}, {"KASHIM_CNT", "500"}});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "kashim: KASHIM_CNT=500 is out of range 1..127; keep-alive settings not applied\n");
  expect_kernel_defaults(run);
  EXPECT_NE(run.value("idle"), "30");
}

TEST(BadInput, InertShimDoesNotRewriteTheProgramsSettings) {
  ProcessRun run = run_probe({"override"}, {{"KASHIM_IDLE", "soon"}});
  EXPECT_EQ(run.value("keepalive"), "0");
  EXPECT_EQ(run.value("idle"), "1000");
}

TEST(BadInput, SilentWithLogOff) {
  ProcessRun run =
      run_probe({"socket", "v4", "stream"}, {{"KASHIM_LOG", "off"}, {"KASHIM_CNT", "500"}});
  expect_clean(run);
  expect_kernel_defaults(run);
}

TEST(Switches, DisableLeavesEverythingAlone) {
  Environment environment = kTuned;
  environment.emplace_back("KASHIM_DISABLE", "1");
  ProcessRun created = run_probe({"socket", "v4", "stream"}, environment);
  expect_clean(created);
  expect_kernel_defaults(created);
  ProcessRun overridden = run_probe({"override"}, environment);
  EXPECT_EQ(overridden.value("idle"), "1000");
}

TEST(Switches, LibkeepaliveVariablesWork) {
  ProcessRun run = run_probe({"socket", "v4", "stream"},
                             {{"KEEPIDLE", "31"}, {"KEEPINTVL", "7"}, {"KEEPCNT", "4"}});
  expect_clean(run);
  EXPECT_EQ(run.value("keepalive"), "1");
  EXPECT_EQ(run.value("idle"), "31");
  EXPECT_EQ(run.value("intvl"), "7");
  EXPECT_EQ(run.value("cnt"), "4");
  ProcessRun off =
      run_probe({"socket", "v4", "stream"}, {{"KEEPALIVE", "off"}, {"KEEPIDLE", "31"}});
  expect_clean(off);
  expect_kernel_defaults(off);
}

TEST(Switches, AutoUserTimeoutIsTheProbeDeadline) {
  ProcessRun run = run_probe({"socket", "v4", "stream"}, {{"KASHIM_IDLE", "20"},
                                                          {"KASHIM_INTVL", "5"},
                                                          {"KASHIM_CNT", "4"},
                                                          {"KASHIM_USER_TIMEOUT", "auto"}});
  expect_clean(run);
  EXPECT_EQ(run.value("user_timeout"), "40000");
}

TEST(Concurrency, ManyThreadsAllGetTunedSockets) {
  ProcessRun run = run_probe({"threads", "8", "200"}, kTuned);
  expect_clean(run);
  EXPECT_EQ(run.value("made"), "1600");
  EXPECT_EQ(run.value("tuned"), "1600");
}

TEST(Concurrency, ForkedChildrenGetTunedSockets) {
  ProcessRun run = run_probe({"fork"}, kTuned);
  expect_clean(run);
  EXPECT_EQ(run.value("child_status"), "0");
  EXPECT_EQ(run.value("child_keepalive"), "1");
  EXPECT_EQ(run.value("child_idle"), "31");
}

TEST(Concurrency, SocketsMadeInASignalHandlerAreTuned) {
  KASHIM_REQUIRE_IPV6();
  ProcessRun run = run_probe({"signal"}, kTuned);
  expect_clean(run);
  expect_tuned(run);
}

// Another preloaded library's constructor calls socket(): ld.so runs it before ours when it
// comes after libkashim.so in LD_PRELOAD, and its socket() is still our hook.
class EarlyConstructor : public ::testing::TestWithParam<bool> {};

TEST_P(EarlyConstructor, HookWorksBeforeTheShimsConstructor) {
  bool kashim_first = GetParam();
  std::string preload = kashim_first ? std::string(KASHIM_LIBRARY_PATH) + " " + KASHIM_EARLY_PATH
                                     : std::string(KASHIM_EARLY_PATH) + " " + KASHIM_LIBRARY_PATH;
  Environment environment = kTuned;
  environment.emplace_back("LD_PRELOAD", preload);
  ProcessRun run = run_probe({"early"}, environment, /*preload=*/false);
  expect_clean(run);
  expect_tuned(run);
}

TEST(EarlyConstructorPremise, LoaderRunsTheOtherConstructorFirst) {
  // The test above only proves something if ld.so really calls libkashim_early.so's
  // constructor before libkashim.so's when kashim comes first in LD_PRELOAD.
  ProcessRun run =
      run_probe({"early"},
                {{"LD_DEBUG", "libs"},
                 {"LD_PRELOAD", std::string(KASHIM_LIBRARY_PATH) + " " + KASHIM_EARLY_PATH}},
                /*preload=*/false);
  std::size_t early = run.err.find(std::string("calling init: ") + KASHIM_EARLY_PATH);
  std::size_t kashim = run.err.find(std::string("calling init: ") + KASHIM_LIBRARY_PATH);
  ASSERT_NE(early, std::string::npos) << run.err;
  ASSERT_NE(kashim, std::string::npos) << run.err;
  EXPECT_LT(early, kashim);
}

INSTANTIATE_TEST_SUITE_P(Shim, EarlyConstructor, ::testing::Bool(), [](const auto& info) {
  return info.param ? "KashimFirstInPreload" : "KashimSecondInPreload";
});

TEST(Logging, InfoGivesOneLinePerConnectionWithPeerAndValues) {
  Environment environment = kTuned;
  environment.emplace_back("KASHIM_LOG", "info");
  ProcessRun client = run_probe({"connect", "v4", "blocking"}, environment);
  EXPECT_EQ(client.out, "");
  std::vector<std::string> lines = lines_of(client.err);
  ASSERT_EQ(lines.size(), 1u) << client.err;
  EXPECT_TRUE(lines[0].starts_with("kashim: fd ")) << lines[0];
  EXPECT_NE(lines[0].find(" connecting to 127.0.0.1:"), std::string::npos) << lines[0];
  EXPECT_TRUE(lines[0].ends_with(": keep-alive on, idle 31s, intvl 7s, cnt 4, user timeout 2500ms"))
      << lines[0];

  ProcessRun server = run_probe({"accept", "v4", "accept4"}, environment);
  lines = lines_of(server.err);
  ASSERT_EQ(lines.size(), 1u) << server.err;
  EXPECT_NE(lines[0].find(" accepted from 127.0.0.1:"), std::string::npos) << lines[0];
  EXPECT_TRUE(lines[0].ends_with("keep-alive on, idle 31s, intvl 7s, cnt 4, user timeout 2500ms"))
      << lines[0];
}

TEST(Logging, DebugShowsStartAndRewrites) {
  Environment environment = kTuned;
  environment.emplace_back("KASHIM_LOG", "debug");
  ProcessRun run = run_probe({"override"}, environment);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("kashim: version " KASHIM_VERSION " started in process "),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("replaced by 7 (KASHIM_MODE=force)"), std::string::npos) << run.err;
}

TEST(Logging, LogFileGetsTheLinesAndStderrStaysQuiet) {
  std::string path = "/tmp/kashim-log-" + std::to_string(getpid()) + ".log";
  unlink(path.c_str());
  Environment environment = kTuned;
  environment.emplace_back("KASHIM_LOG", "info");
  environment.emplace_back("KASHIM_LOG_FILE", path);
  ProcessRun first = run_probe({"connect", "v4", "blocking"}, environment);
  ProcessRun second = run_probe({"connect", "v4", "blocking"}, environment);
  expect_clean(first);
  expect_clean(second);
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  EXPECT_EQ(lines_of(contents.str()).size(), 2u) << "appended, one line each: " << contents.str();
  unlink(path.c_str());
}

TEST(Logging, BadValueReportedInTheLogFile) {
  std::string path = "/tmp/kashim-bad-" + std::to_string(getpid()) + ".log";
  unlink(path.c_str());
  ProcessRun run =
      run_probe({"socket", "v4", "stream"}, {{"KASHIM_LOG_FILE", path}, {"KASHIM_MODE", "x"}});
  expect_clean(run);
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line,
            "kashim: KASHIM_MODE=x is not a mode (accepted: force, fallback); keep-alive "
            "settings not applied");
  unlink(path.c_str());
}

}  // namespace
}  // namespace kashim::testing

namespace kashim::testing {
namespace {

constexpr const char* kRefusesDeepBind =
    "the sanitizer runtime refuses RTLD_DEEPBIND (google/sanitizers#611)";

Environment with_audit(Environment environment) {
  environment.emplace_back("LD_AUDIT", KASHIM_AUDIT_PATH);
  return environment;
}

TEST(DeepBind, LdPreloadAloneCannotReachADeepBoundLibrary) {
  KASHIM_SKIP_WHEN_SANITIZED(kRefusesDeepBind);
  // The limitation the audit module exists for; if this starts passing tuned, glibc changed.
  ProcessRun run = run_probe({"deepbind", KASHIM_DEEPBOUND_PATH}, kTuned);
  expect_clean(run);
  expect_kernel_defaults(run);
}

TEST(DeepBind, TheAuditModuleSendsItsCallsToTheHooks) {
  KASHIM_SKIP_WHEN_SANITIZED(kRefusesDeepBind);
  ProcessRun run = run_probe({"deepbind", KASHIM_DEEPBOUND_PATH}, with_audit(kTuned));
  expect_clean(run);
  expect_tuned(run);
}

// Installed with a version in its name (libkashim.so.0), the library is still the one the
// audit module sends the calls to: one name rule for both (shim/library_name.hpp).
TEST(DeepBind, TheAuditModuleFindsTheLibraryUnderAVersionedName) {
  KASHIM_SKIP_WHEN_SANITIZED(kRefusesDeepBind);
  const std::string directory = scratch_path("versioned");
  ASSERT_EQ(mkdir(directory.c_str(), 0755), 0);
  const std::string versioned = directory + "/libkashim.so.0";
  std::filesystem::copy_file(KASHIM_LIBRARY_PATH, versioned);
  ProcessRun run = run_probe({"deepbind", KASHIM_DEEPBOUND_PATH},
                             with(with_audit(kTuned), "LD_PRELOAD", versioned), false);
  std::filesystem::remove_all(directory);
  expect_clean(run);
  expect_tuned(run);
}

TEST(DeepBind, TheAuditModuleChangesNothingElse) {
  ProcessRun without = run_probe({"errors"}, kTuned, /*preload=*/false);
  ProcessRun with = run_probe({"errors"}, with_audit(kTuned));
  expect_clean(with);
  EXPECT_EQ(with.values, without.values);
  ProcessRun tuned = run_probe({"accept", "v4", "accept4"}, with_audit(kTuned));
  expect_clean(tuned);
  expect_tuned(tuned);
}

TEST(DeepBind, AuditModuleWithoutTheShimDoesNothing) {
  KASHIM_SKIP_WHEN_SANITIZED(kRefusesDeepBind);
  ProcessRun run = run_probe({"deepbind", KASHIM_DEEPBOUND_PATH}, with_audit(kTuned),
                             /*preload=*/false);
  expect_clean(run);
  expect_kernel_defaults(run);
}

}  // namespace
}  // namespace kashim::testing
