// Where kashim once changed what a program observes, compared with the same run without
// it: pointers the kernel refuses, pthread cancellation, a log destination that blocks,
// another interposer after the shim, two copies of the shim, and the wrapper's errors.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace kashim::testing {
namespace {

Environment kValues() {
  return {{"KASHIM_IDLE", "42"}, {"KASHIM_INTVL", "5"}, {"KASHIM_CNT", "3"}};
}

int listening_port(int* fd) {
  sockaddr_in address;
  *fd = loopback_listener(SOCK_CLOEXEC, &address);
  return ntohs(address.sin_port);
}

// --- Pointers the kernel refuses: the same error, never a crash ------------------------

class Efault : public ::testing::TestWithParam<Environment> {};

std::string efault_case_name(std::size_t index) {
  const char* names[] = {"NothingSet",    "Tuned",    "WithPeers",
                         "WithDirection", "Fallback", "DebugLog"};
  return names[index];
}

TEST_P(Efault, EveryCallFailsAsTheKernelSaysWithOrWithoutTheShim) {
  int server = -1;
  const std::string port = std::to_string(listening_port(&server));
  ProcessRun with_shim = run_probe({"efault", port}, GetParam());
  ProcessRun without = run_probe({"efault", port}, GetParam(), /*preload=*/false);
  close(server);
  EXPECT_EQ(with_shim.exit_code, 0) << with_shim.err;
  EXPECT_EQ(with_shim.out, "");
  expect_clean(without);
  for (const char* call :
       {"setsockopt_idle", "setsockopt_keepalive", "setsockopt_user_timeout", "connect_address",
        "connect_long_length", "sendto_fastopen", "sendmsg_fastopen", "connect_valid"}) {
    EXPECT_EQ(with_shim.value(call), without.value(call)) << call;
  }
  EXPECT_EQ(without.value("setsockopt_idle"), "fail:EFAULT") << "the premise";
  EXPECT_EQ(without.value("connect_long_length"), "fail:EINVAL") << "the premise";
  EXPECT_EQ(without.value("connect_valid"), "ok:0") << "the premise";
}

INSTANTIATE_TEST_SUITE_P(Hardening, Efault,
                         ::testing::Values(Environment{}, kTuned,
                                           with(kTuned, "KASHIM_PEERS", "127.0.0.1"),
                                           with(kTuned, "KASHIM_DIRECTION", "out"),
                                           with(kTuned, "KASHIM_MODE", "fallback"),
                                           with(kTuned, "KASHIM_LOG", "debug")),
                         [](const auto& info) { return efault_case_name(info.index); });

// --- Force mode's one call: what the program's call would have got ------------------------

class ForcedCalls : public ::testing::TestWithParam<Environment> {};

std::string forced_case_name(std::size_t index) {
  const char* names[] = {"Force", "WithPeers", "Fallback", "DebugLog"};
  return names[index];
}

TEST_P(ForcedCalls, EachCallGetsTheKernelsAnswerAndErrnoAsWithoutTheShim) {
  ProcessRun with_shim = run_probe({"forced-calls"}, GetParam());
  ProcessRun without = run_probe({"forced-calls"}, GetParam(), /*preload=*/false);
  EXPECT_EQ(with_shim.exit_code, 0) << with_shim.err;
  EXPECT_EQ(with_shim.out, "");
  expect_clean(without);
  for (const char* call : {"bad_fd",
                           "closed_fd",
                           "not_a_socket",
                           "udp",
                           "udp_keepalive",
                           "unix",
                           "listener",
                           "idle_zero",
                           "idle_too_long",
                           "cnt_too_many",
                           "user_timeout_negative",
                           "short_length",
                           "negative_length",
                           "keepalive_negative_length",
                           "long_length",
                           "idle",
                           "intvl",
                           "user_timeout",
                           "keepalive_on",
                           "keepalive_off"}) {
    EXPECT_EQ(with_shim.value(call), without.value(call)) << call;
    EXPECT_EQ(with_shim.value(call + std::string("_errno")),
              without.value(call + std::string("_errno")))
        << call;
  }
  EXPECT_EQ(without.value("bad_fd"), "fail:EBADF") << "the premise";
  EXPECT_EQ(without.value("not_a_socket"), "fail:ENOTSOCK") << "the premise";
  EXPECT_EQ(without.value("negative_length"), "fail:EINVAL") << "the premise";
  EXPECT_EQ(without.value("idle"), "ok:0") << "the premise";
  EXPECT_EQ(without.value("idle_errno"), "kept") << "the premise";
  EXPECT_EQ(without.value("tcp_idle"), "10") << "the premise: the program's own value";
}

TEST(ForcedCalls, ForceModeLeavesTheOperatorsValuesFallbackModeTheProgramsOwn) {
  ProcessRun forced = run_probe({"forced-calls"}, kTuned);
  expect_tuned(forced, "tcp_");
  expect_tuned(forced, "listener_");
  EXPECT_EQ(forced.value("tcp_keepalive_at_end"), "1") << "switched on again";
  ProcessRun fallback = run_probe({"forced-calls"}, with(kTuned, "KASHIM_MODE", "fallback"));
  EXPECT_EQ(fallback.value("tcp_idle"), "10");
  EXPECT_EQ(fallback.value("tcp_intvl"), "10");
  EXPECT_EQ(fallback.value("tcp_user_timeout"), "10");
  EXPECT_EQ(fallback.value("tcp_keepalive_at_end"), "0");
}

// The calls an interposer behind kashim was handed for the probe's forced-idle scenario,
// under kTuned (idle 31). `max_idle`: the interposer also judges values, as a cgroup
// setsockopt program or a seccomp supervisor may, and refuses a TCP_KEEPIDLE above it.
std::pair<std::vector<std::string>, ProcessRun> forced_idle_calls(
    bool shim, const std::vector<std::string>& scenario, const std::string& max_idle = "") {
  return calls_behind(
      scenario, max_idle.empty() ? kTuned : with(kTuned, "KASHIM_BEHIND_MAX_IDLE", max_idle), shim);
}

TEST(ForcedCalls, TheProgramsCallCarriesTheOperatorsValueAndNothingElseIsCalled) {
  const auto [calls, run] = forced_idle_calls(true, {"forced-idle", "10"});
  expect_clean(run);
  EXPECT_EQ(calls, std::vector<std::string>{"4=31"});
  EXPECT_EQ(run.value("set"), "ok:0");
  EXPECT_EQ(run.value("errno_kept"), "1");
  EXPECT_EQ(run.value("idle"), "31");
}

// The kernel's answer whatever the value (EBADF, ENOPROTOOPT): the program's call would get
// the same, and is not made a second time.
TEST(ForcedCalls, ACallTheKernelRefusesAnywayIsMadeOnce) {
  for (const char* kind : {"bad-fd", "udp"}) {
    const auto [calls, run] = forced_idle_calls(true, {"forced-idle", "10", kind});
    const auto [calls_without, without] = forced_idle_calls(false, {"forced-idle", "10", kind});
    EXPECT_EQ(calls, std::vector<std::string>{"4=31"}) << kind;
    EXPECT_EQ(calls_without, std::vector<std::string>{"4=10"}) << kind;
    EXPECT_EQ(run.value("set"), without.value("set")) << kind;
    EXPECT_NE(without.value("set"), "ok:0") << kind << ": the premise";
  }
}

// A layer between libc and the kernel that judges values refuses the operator's: the
// program's own call is then made as it was, answers as without kashim, and the operator's
// value is not tried again.
TEST(ForcedCalls, ALayerThatRefusesTheOperatorsValueAnswersTheProgramsCallAsWithoutTheShim) {
  const auto [calls, run] = forced_idle_calls(true, {"forced-idle", "10"}, "20");
  const auto [calls_without, without] = forced_idle_calls(false, {"forced-idle", "10"}, "20");
  expect_clean(run);
  EXPECT_EQ(calls, (std::vector<std::string>{"4=31", "4=10"}));
  EXPECT_EQ(calls_without, std::vector<std::string>{"4=10"});
  EXPECT_EQ(without.value("set"), "ok:0") << "the premise: the program's 10 is allowed";
  EXPECT_EQ(run.value("set"), "ok:0");
  EXPECT_EQ(run.value("errno_kept"), "1");
  EXPECT_EQ(run.value("idle"), "10") << "the program's value, as the layer allowed";
}

INSTANTIATE_TEST_SUITE_P(Hardening, ForcedCalls,
                         ::testing::Values(kTuned, with(kTuned, "KASHIM_PEERS", "127.0.0.1"),
                                           with(kTuned, "KASHIM_MODE", "fallback"),
                                           with(kTuned, "KASHIM_LOG", "debug")),
                         [](const auto& info) { return forced_case_name(info.index); });

// --- Records belong to a socket, not to its number --------------------------------------

TEST(Records, ANumberReusedBySocketpairOrDup2NeverGetsAnotherSocketsRecord) {
  Environment environment = with(kValues(), "KASHIM_PEERS", "127.0.0.1");
  ProcessRun with_shim = run_probe({"reuse-number"}, environment);
  ProcessRun without = run_probe({"reuse-number"}, environment, /*preload=*/false);
  expect_clean(with_shim);
  EXPECT_EQ(with_shim.value("tuned"), "1/42/5/3") << "the premise: kashim tuned it";
  EXPECT_EQ(with_shim.value("unix_keepalive"), without.value("unix_keepalive"));
  EXPECT_EQ(with_shim.value("unix_keepalive"), "0");
  EXPECT_EQ(with_shim.value("excluded_idle"), "99");
  EXPECT_EQ(with_shim.value("excluded"), without.value("excluded"));
}

// --- A connect() interrupted by a signal ------------------------------------------------

TEST(InterruptedConnect, WithAFilterItIsDecidedAsItGoesOnInTheBackground) {
  Environment environment = with(kValues(), "KASHIM_PEERS", "127.0.0.1");
  ProcessRun with_shim = run_probe({"connect-eintr"}, environment);
  ProcessRun without = run_probe({"connect-eintr"}, environment, /*preload=*/false);
  EXPECT_EQ(without.value("connect"), "fail:EINTR") << "the premise";
  EXPECT_EQ(with_shim.value("connect"), "fail:EINTR");
  EXPECT_EQ(with_shim.value("after"), "1/42/5/3");
  EXPECT_EQ(without.value("after"), "0/7200/75/9");
}

// --- Cancellation, and a log that cannot be written -------------------------------------

TEST(Cancellation, HooksAddNoCancellationPointAndKeepTheirOwn) {
  for (const char* level : {"debug", "info"}) {
    Environment environment = with(kTuned, "KASHIM_LOG", level);
    for (bool preload : {true, false}) {
      ProcessRun run = run_probe({"cancel-full-stderr"}, environment, preload);
      EXPECT_EQ(run.exit_code, 0) << run.err;
      EXPECT_EQ(run.value("socket_returned"), "1") << level << " preload " << preload;
      EXPECT_EQ(run.value("accept_returned"), "1") << level << " preload " << preload;
      EXPECT_EQ(run.value("accept_thread_joined"), "1") << level;
      EXPECT_EQ(run.value("blocked_accept_cancelled"), "1") << level;
    }
  }
}

// A logger that died: its FIFO has no reader. Opening it for writing would wait for one.
TEST(LogFile, AFifoWithoutAReaderNeverStopsTheProgram) {
  const std::string fifo = scratch_path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Environment environment = with(kTuned, "KASHIM_LOG", "debug");
  environment.emplace_back("KASHIM_LOG_FILE", fifo);
  ProcessRun run = run_probe({"connect", "v4", "blocking"}, environment);
  expect_clean(run);
  expect_tuned(run);
  // An error reported from the constructor goes there too.
  run = run_probe({"socket", "v4", "stream"}, {{"KASHIM_IDLE", "soon"}, {"KASHIM_LOG_FILE", fifo}});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.value("keepalive"), "0");
  unlink(fifo.c_str());
}

// --- Small stacks: the first hooked call reads the configuration ------------------------

// socket(), connect(), accept() and setsockopt() are async-signal-safe, and threads may run
// on the smallest stack the system allows: what the shim adds to a program's call (the first
// one reads the configuration) must fit beside it. Measured against the same run without the
// shim, on a painted stack of sysconf(_SC_SIGSTKSZ) bytes (plus PTHREAD_STACK_MIN for a
// thread) above a guard page, with LD_BIND_NOW=1 in both: resolving a lazy binding takes
// ~3 KiB of whatever stack the call runs on, the program's as much as kashim's, and would
// hide kashim's own frames.
TEST(SmallStacks, AHookNeedsAtMostThreeKiBMoreStackFourToReadAFileOrWriteALine) {
  KASHIM_SKIP_WHEN_SANITIZED("instrumented frames are several times the size of real ones");
  const std::string file = scratch_path("small-stacks.conf");
  { std::ofstream(file) << "idle = 33\n[program kashim_probe]\nidle = 31\n"; }
  chmod(file.c_str(), 0644);
  const Environment bound = with(kTuned, "LD_BIND_NOW", "1");
  const auto but = [&bound](const std::string& name, const std::string& value) {
    Environment environment = bound;
    std::erase_if(environment, [&name](const auto& entry) { return entry.first == name; });
    return value.empty() ? environment : with(environment, name, value);
  };
  const Environment from_file = with(but("KASHIM_IDLE", ""), "KASHIM_CONFIG", file);
  struct Case {
    const char* label;
    Environment environment;
    int budget;            // bytes more than without the shim
    bool tuned_at_socket;  // else at connect() and accept(), or (a bad value) never
    bool tuned_at_connection;
  };
  const Case cases[] = {
      {"variables", bound, 3072, true, true},
      {"a file with sections", from_file, 4096, true, true},
      {"a peer filter", but("KASHIM_PEERS", "127.0.0.1"), 3072, false, true},
      {"a line for each call", but("KASHIM_LOG", "debug"), 4096, true, true},
      {"a filter and lines", with(but("KASHIM_PEERS", "127.0.0.1"), "KASHIM_LOG", "debug"), 4096,
       false, true},
      {"a bad value", but("KASHIM_IDLE", "soon"), 4096, false, false}};
  for (const char* where : {"signal", "thread"}) {
    for (const char* calls : {"socket", "accept", "connect"}) {
      for (const Case& test : cases) {
        const std::string label = std::string(where) + " " + calls + ", " + test.label;
        const bool tuned =
            std::string(calls) == "socket" ? test.tuned_at_socket : test.tuned_at_connection;
        ProcessRun with_shim = run_probe({"small-stacks", where, calls}, test.environment);
        ProcessRun without =
            run_probe({"small-stacks", where, calls}, test.environment, /*preload=*/false);
        ASSERT_EQ(with_shim.exit_code, 0) << label << with_shim.err;
        ASSERT_EQ(without.exit_code, 0) << label << without.err;
        EXPECT_EQ(with_shim.value("set"), without.value("set")) << label;
        EXPECT_EQ(with_shim.value("after"), tuned ? "1/31/7/4" : without.value("after")) << label;
        EXPECT_NE(without.value("after"), "1/31/7/4") << label << ": the premise";
        const long used_with = std::stol(with_shim.value("used"));
        const long used_without = std::stol(without.value("used"));
        EXPECT_LE(used_with - used_without, test.budget)
            << label << ": " << used_with << " of " << with_shim.value("size") << " bytes, against "
            << used_without << " without the shim";
      }
    }
  }
}

// --- Short of memory or descriptors at the first hooked call ----------------------------

// The configuration could not be read then (no memory to map, no descriptor to open the
// file): those sockets are left as without kashim, and the next call reads it. Kept as it
// was, the process stayed untuned for good; after four such calls every hooked call waited
// through a thousand sched_yield().
TEST(ShortOfResources, TheConfigurationIsReadAtTheFirstCallThatCan) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime itself needs memory and descriptors");
  const std::string file = scratch_path("short-of.conf");
  { std::ofstream(file) << "idle = 31\n"; }
  chmod(file.c_str(), 0644);
  Environment environment = with(kTuned, "KASHIM_CONFIG", file);
  environment.erase(std::remove_if(environment.begin(), environment.end(),
                                   [](const auto& entry) { return entry.first == "KASHIM_IDLE"; }),
                    environment.end());
  for (const char* resource : {"memory", "descriptors"}) {
    ProcessRun with_shim = run_probe({"short-of", resource}, environment);
    ProcessRun without = run_probe({"short-of", resource}, environment, /*preload=*/false);
    EXPECT_EQ(with_shim.value("own"), without.value("own")) << resource << ": made while short";
    ASSERT_EQ(with_shim.exit_code, 0) << resource << with_shim.err;
    EXPECT_EQ(with_shim.err, "") << resource << ": nothing to say of a file not yet read";
    EXPECT_EQ(with_shim.value("short"), without.value("short")) << resource;
    EXPECT_EQ(without.value("short"), "0 0 0 0 0 0 0 0 ") << resource << ": the premise";
    EXPECT_EQ(with_shim.value("after"), "1/31/7/4") << resource;
    EXPECT_EQ(without.value("after"), "0/7200/75/9") << resource << ": the premise";
    // Fallback mode with a filter, which decides at connect(): the program's own values on
    // a socket kashim did not see made stand, as without it.
    const Environment fallback =
        with(with(environment, "KASHIM_MODE", "fallback"), "KASHIM_PEERS", "127.0.0.1");
    ProcessRun kept = run_probe({"short-of", resource}, fallback);
    ASSERT_EQ(kept.exit_code, 0) << resource << kept.err;
    EXPECT_EQ(kept.value("own"), "1/5/75/9") << resource << ": fallback mode";
    EXPECT_EQ(kept.value("after"), "0/7200/75/9") << resource << ": decided at connect()";
  }
  std::remove(file.c_str());
}

// With a filter, kashim records which connections it tuned and what the program set: the
// records are mapped a page of 4096 numbers at a time. Mapped for every possible number
// they took 8 MiB of the program's address space, which counts against `ulimit -v`.
TEST(ShortOfResources, RecordsTakeLittleOfTheAddressSpace) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime maps memory of its own");
  const Environment filter = with(kTuned, "KASHIM_PEERS", "127.0.0.1");
  ProcessRun with_shim = run_probe({"address-space"}, filter);
  ProcessRun without = run_probe({"address-space"}, filter, /*preload=*/false);
  ASSERT_EQ(with_shim.exit_code, 0) << with_shim.err;
  ASSERT_EQ(without.exit_code, 0) << without.err;
  const long grown = std::stol(with_shim.value("grown_kib"));
  const long grown_without = std::stol(without.value("grown_kib"));
  EXPECT_LE(grown - grown_without, 512)
      << grown << " KiB, against " << grown_without << " KiB without the shim";
}

// --- Other interposers and other copies -------------------------------------------------

// libkashim_behind.so looks up the next setsockopt() with dlsym(RTLD_NEXT): with the audit
// module in the way, that look-up once came back as kashim's hook, and the two called each
// other until the stack overflowed.
TEST(OtherInterposers, WithTheAuditModuleInEitherOrderNoLoop) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime cannot live beside LD_AUDIT");
  for (bool kashim_first : {true, false}) {
    std::string preload = kashim_first
                              ? std::string(KASHIM_LIBRARY_PATH) + ":" + KASHIM_BEHIND_PATH
                              : std::string(KASHIM_BEHIND_PATH) + ":" + KASHIM_LIBRARY_PATH;
    Environment environment = with(kTuned, "LD_PRELOAD", preload);
    environment.emplace_back("LD_AUDIT", KASHIM_AUDIT_PATH);
    ProcessRun run = run_probe({"override"}, environment, /*preload=*/false);
    expect_clean(run);
    expect_tuned(run);
    EXPECT_EQ(run.value("set_intvl"), "ok:0") << "kashim first: " << kashim_first;
  }
}

// Debian's torsocks and proxychains4 resolve connect() with dlsym(RTLD_NEXT); the wrapper
// puts kashim in front of them with the audit module. Before the audit module left dlsym()
// alone, proxychains4 and kashim called each other at the first connect() (abort).
TEST(OtherInterposers, TorsocksAndProxychainsInFrontOfTheWrapper) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime cannot live beside LD_AUDIT");
  for (std::vector<std::string> front :
       {std::vector<std::string>{"torsocks"}, std::vector<std::string>{"proxychains4", "-q"}}) {
    KASHIM_REQUIRE(run_command({"sh", "-c", "command -v " + front[0]}, {}).exit_code == 0,
                   "torsocks and proxychains4");
    const std::vector<std::string> program = {KASHIM_PROBE_PATH, "/dev/null", "connect", "v4",
                                              "blocking"};
    std::vector<std::string> plain = front, wrapped = front;
    plain.insert(plain.end(), program.begin(), program.end());
    wrapped.insert(wrapped.end(), {KASHIM_WRAPPER_PATH, "--idle", "30", "--"});
    wrapped.insert(wrapped.end(), program.begin(), program.end());
    Environment environment = {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}};
    ProcessRun without = run_command(plain, environment);
    ProcessRun with_shim = run_command(wrapped, environment);
    EXPECT_EQ(with_shim.exit_code, without.exit_code) << front[0] << ": " << with_shim.err;
    EXPECT_EQ(with_shim.out, without.out) << front[0];
  }
}

// /etc/ld.so.preload names one copy, the wrapper another: the one behind only forwards.
// With KASHIM_LOG=debug every tuning is one line: the number of copies at work per socket.
std::size_t tunings_logged(const ProcessRun& run) {
  std::size_t tunings = 0;
  for (const std::string& line : lines_of(run.err)) {
    tunings += line.find("created and tuned") != std::string::npos;
  }
  return tunings;
}

TEST(TwoCopies, TheSecondOnlyForwardsAndCancellationStaysIntact) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime cannot live beside LD_AUDIT");
  const std::string directory = scratch_path("copy");
  std::filesystem::create_directories(directory);
  const std::string copy = directory + "/libkashim.so";
  std::filesystem::copy_file(KASHIM_LIBRARY_PATH, copy);
  Environment environment =
      with(kTuned, "LD_PRELOAD", std::string(KASHIM_LIBRARY_PATH) + " " + copy);
  environment.emplace_back("LD_AUDIT", KASHIM_AUDIT_PATH);
  ProcessRun run = run_probe({"cancel"}, environment, /*preload=*/false);
  EXPECT_EQ(run.value("blocked_accept_cancelled"), "1") << run.err;
  EXPECT_EQ(run.value("socket_returned"), "1");
  // Debug logging: every tuning is one line; one copy means one line per socket.
  environment.emplace_back("KASHIM_LOG", "debug");
  run = run_probe({"socket", "v4", "stream"}, environment, /*preload=*/false);
  expect_tuned(run);
  EXPECT_EQ(tunings_logged(run), 1u) << run.err;
  std::filesystem::remove_all(directory);
}

// A copy under another name (copied into an image as keepalive.so, say) is still a copy: it
// keeps libkashim.so's DT_SONAME. In front, it works; libkashim.so behind it only forwards.
TEST(TwoCopies, ACopyUnderAnotherNameInFrontIsKnownByItsSoname) {
  const std::string directory = scratch_path("renamed");
  std::filesystem::create_directories(directory);
  const std::string renamed = directory + "/keepalive.so";
  std::filesystem::copy_file(KASHIM_LIBRARY_PATH, renamed);
  Environment environment =
      with(with(kTuned, "LD_PRELOAD", renamed + " " + KASHIM_LIBRARY_PATH), "KASHIM_LOG", "debug");
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime must come first in LD_PRELOAD");
  ProcessRun run = run_probe({"socket", "v4", "stream"}, environment, /*preload=*/false);
  expect_tuned(run);
  EXPECT_EQ(tunings_logged(run), 1u) << run.err;
  std::filesystem::remove_all(directory);
}

// --- The wrapper reports a command it cannot run as env(1) does -------------------------

TEST(WrapperErrors, NotExecutableIs126AndMissingIs127LikeEnv) {
  const std::string directory = scratch_path("commands");
  std::filesystem::create_directories(directory);
  const std::string plain_file = directory + "/not-executable";
  { std::ofstream(plain_file) << "echo hi\n"; }
  Environment environment = {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}};
  // The status env(1) gives; the line names the reason ("is a directory" where env says
  // Permission denied, as the shells do).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {plain_file, "kashim: " + plain_file + ": Permission denied\n"},
      {directory, "kashim: " + directory + ": is a directory\n"},
      {directory + "/missing", "kashim: " + directory + "/missing: command not found\n"},
      {"", "kashim: '': No such file or directory\n"},
  };
  for (const auto& [command, line] : cases) {
    ProcessRun by_env = run_command({"env", command}, environment);
    for (const std::vector<std::string>& options :
         {std::vector<std::string>{"--"}, std::vector<std::string>{"--supervise", "--"}}) {
      std::vector<std::string> argv = {KASHIM_WRAPPER_PATH};
      argv.insert(argv.end(), options.begin(), options.end());
      argv.push_back(command);
      ProcessRun by_kashim = run_command(argv, environment);
      EXPECT_EQ(by_kashim.exit_code, by_env.exit_code) << command;
      EXPECT_EQ(by_kashim.out, "");
      EXPECT_EQ(by_kashim.err, line);
    }
    // --check prints the report, then the same line and status.
    ProcessRun check = run_command({KASHIM_WRAPPER_PATH, "--check", "--", command}, environment);
    EXPECT_EQ(check.exit_code, by_env.exit_code) << command;
    EXPECT_EQ(check.err, line);
  }
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace kashim::testing
