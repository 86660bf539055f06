// What a host program may do around the shim, and what its environment may do to it:
// threads, fork, exec, vfork, posix_spawn, a socket in stderr's place, a dlsym that lies.
// Each run is compared with the same run without the shim, and tuned sockets must stay
// tuned. (The errno/EMFILE matrix, seccomp and early-constructor cases are in shim_test.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

constexpr const char* kTunedSummary = "1/31/7/4";  // KEEPALIVE/IDLE/INTVL/CNT of kTuned

TEST(Torture, SixteenThreadsConnectWhileOthersForkAndExec) {
  const std::vector<std::string> storm = {"storm", "16", "100", "2", "10"};
  ProcessRun without = run_probe(storm, kTuned, /*preload=*/false);
  ProcessRun run = run_probe(storm, kTuned);
  expect_clean(run);
  EXPECT_EQ(run.value("reference"), kTunedSummary);
  EXPECT_EQ(run.value("connected"), "1600");
  EXPECT_EQ(run.value("accepted"), "1600");
  EXPECT_EQ(run.value("connect_failures"), "0");
  EXPECT_EQ(run.value("connected_summaries"), kTunedSummary) << "every client tuned alike";
  EXPECT_EQ(run.value("accepted_summaries"), kTunedSummary) << "every accepted one too";
  EXPECT_EQ(run.value("children_ok"), "20") << "first bad child: " << run.value("first_bad_child");
  // The same program without the shim: the same counts, nothing tuned.
  expect_clean(without);
  EXPECT_NE(without.value("reference"), kTunedSummary);
  for (const char* key : {"connected", "accepted", "connect_failures", "children_ok"}) {
    EXPECT_EQ(without.value(key), run.value(key)) << key;
  }
}

TEST(Torture, VforkAndPosixSpawnChildrenAreTunedAndTheParentIsUnchanged) {
  ProcessRun run = run_probe({"spawn"}, kTuned);
  expect_clean(run);
  EXPECT_EQ(run.value("reference"), kTunedSummary);
  EXPECT_EQ(run.value("vfork_status"), "0");
  EXPECT_EQ(run.value("posix_spawn"), "ok:0");
  EXPECT_EQ(run.value("posix_spawn_status"), "0");
  EXPECT_EQ(run.value("after"), kTunedSummary);
}

// The scenario logs on connect, accept and a rewritten setsockopt at KASHIM_LOG=debug;
// every line must go nowhere rather than into the socket numbered 2.
class StderrSocket : public ::testing::TestWithParam<bool> {};

TEST_P(StderrSocket, NoLogByteEverReachesASocketInStderrsPlace) {
  const bool closed_from_start = GetParam();
  Environment environment = with(kTuned, "KASHIM_LOG", "debug");
  environment.emplace_back("LD_PRELOAD", KASHIM_LIBRARY_PATH);
  std::vector<std::string> launcher;
  if (closed_from_start) launcher = {"sh", "-c", "exec \"$0\" \"$@\" 2>&-"};
  ProcessRun run = run_probe_launched_by(launcher, {"stderr-socket"}, environment);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.value("fd"), "2");
  EXPECT_EQ(run.value("summary"), kTunedSummary) << "tuned, and the program's idle replaced";
  EXPECT_EQ(run.value("bytes_received"), "0");
  // The configuration is read, and the debug start-up line written, at the first hooked
  // call: by then stderr is the socket, and that line is dropped with the others.
  EXPECT_EQ(run.err, "");
  // The premise: the same run with a log file gets the lines the socket must not.
  std::string log = scratch_path("stderr-socket-log");
  environment.emplace_back("KASHIM_LOG_FILE", log);
  ProcessRun logged = run_probe_launched_by(launcher, {"stderr-socket"}, environment);
  EXPECT_EQ(logged.value("bytes_received"), "0");
  std::string lines = read_file(log);
  EXPECT_NE(lines.find("fd 2"), std::string::npos) << lines;
  EXPECT_NE(lines.find("replaced by 31"), std::string::npos) << lines;
  unlink(log.c_str());
}

INSTANTIATE_TEST_SUITE_P(Torture, StderrSocket, ::testing::Bool(), [](const auto& info) {
  return std::string(info.param ? "StderrClosedAtStart" : "StderrClosedByTheProgram");
});

int trap_calls(const std::string& report) {
  std::string calls = read_file(report);
  EXPECT_TRUE(calls.starts_with("dlsym_trap_calls=")) << calls;
  unlink(report.c_str());
  return atoi(calls.c_str() + sizeof "dlsym_trap_calls=" - 1);
}

// A library in front of the shim whose dlsym hands the shim its own hooks back, and calls
// socket() from inside dlsym while the shim is resolving. The shim asks dlsym only where
// it cannot read the answer from the loaded objects' tables: an object without a GNU hash
// table behind it (libkashim_sysv_hash.so) is such a case.
TEST(Torture, DlsymReturningTheHookItselfNeitherLoopsNorRecurses) {
  KASHIM_SKIP_WHEN_SANITIZED("the trap would answer the sanitizer runtime's own look-ups too");
  std::string report = scratch_path("dlsym-trap");
  Environment environment = with(kTuned, "KASHIM_TRAP_REPORT", report);
  environment.emplace_back("LD_PRELOAD", std::string(KASHIM_DLSYM_TRAP_PATH) + ":" +
                                             KASHIM_LIBRARY_PATH + ":" + KASHIM_SYSV_HASH_PATH);
  ProcessRun run = run_probe({"socket", "v4", "stream"}, environment, /*preload=*/false);
  expect_clean(run);
  expect_tuned(run);
  EXPECT_EQ(run.value("errno_after"), "4242");
  EXPECT_GE(trap_calls(report), 7) << "the trap was asked";

  ProcessRun without = run_probe({"errors"}, kTuned, /*preload=*/false);
  ProcessRun errors = run_probe({"errors"}, environment, /*preload=*/false);
  expect_clean(errors);
  EXPECT_EQ(errors.values, without.values);
  unlink(report.c_str());
}

// Where every object behind the shim has a GNU hash table (every Debian library), the real
// functions come from reading those tables: dlsym is never asked, so an interposed dlsym
// cannot lead the shim astray, and a first hooked call in a signal handler allocates nothing.
TEST(Torture, TheRealFunctionsAreFoundWithoutDlsym) {
  KASHIM_SKIP_WHEN_SANITIZED("the trap would answer the sanitizer runtime's own look-ups too");
  std::string report = scratch_path("dlsym-untouched");
  Environment environment = with(kTuned, "KASHIM_TRAP_REPORT", report);
  environment.emplace_back("LD_PRELOAD",
                           std::string(KASHIM_DLSYM_TRAP_PATH) + ":" + KASHIM_LIBRARY_PATH);
  ProcessRun run = run_probe({"socket", "v4", "stream"}, environment, /*preload=*/false);
  expect_clean(run);
  expect_tuned(run);
  EXPECT_EQ(trap_calls(report), 0) << "dlsym(RTLD_NEXT) was asked";
}

// A child forked while another thread of its parent was inside dl_iterate_phdr: glibc
// leaves the loader's lock taken in the child. The shim notes the loaded objects at start
// and never takes that lock in a hook, so the child's first socket() returns.
TEST(Torture, AChildForkedWhileAThreadWalksTheLoadedObjectsCanOpenASocket) {
  ProcessRun without = run_command({KASHIM_LOADER_CASES_PATH, "fork-in-iterate"}, kTuned);
  ProcessRun shimmed = run_command({KASHIM_LOADER_CASES_PATH, "fork-in-iterate"},
                                   with(kTuned, "LD_PRELOAD", KASHIM_LIBRARY_PATH));
  EXPECT_EQ(without.out, "child: exit 0\n");
  EXPECT_EQ(shimmed.out, without.out) << shimmed.err;
}

// libkashim.so dlopen()ed (RTLD_LOCAL), then another library that defines setsockopt: the
// real setsockopt is libc's, as dlsym(RTLD_NEXT) in the shim's place would find, not the
// later library's (libkashim_behind.so reports every call that reaches it).
TEST(Torture, ADlopenedShimDoesNotCallALibraryOpenedAfterIt) {
  std::string report = scratch_path("dlopen-other");
  ProcessRun run =
      run_command({KASHIM_LOADER_CASES_PATH, "dlopen", KASHIM_LIBRARY_PATH, KASHIM_BEHIND_PATH},
                  with(kTuned, "KASHIM_BEHIND_REPORT", report));
  EXPECT_EQ(run.out, "setsockopt: 0\n") << run.err;
  EXPECT_EQ(read_file(report), "") << "calls reached the library opened after the shim";
  unlink(report.c_str());
}

// The constructor finds the loader's list through the auxiliary vector behind the
// environment it is handed, when that is the initial stack's; a libkashim.so dlopen()ed after
// setenv() moved the environment is handed one the vector does not follow, and walks with
// dl_iterate_phdr instead (its binding is the sign), with the same result as above.
TEST(Torture, ADlopenedShimFindsTheLoadedObjectsAfterSetenvMovedTheEnvironment) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime intercepts libc");
  std::string report = scratch_path("dlopen-setenv");
  auto walks_with_libc = [](const ProcessRun& run) {
    return std::regex_search(
        run.err,
        std::regex(R"(libkashim\.so \[0\] to \S+ \[0\]: normal symbol `dl_iterate_phdr')"));
  };
  const Environment debug =
      with(with(kTuned, "KASHIM_BEHIND_REPORT", report), "LD_DEBUG", "bindings");
  ProcessRun moved = run_command(
      {KASHIM_LOADER_CASES_PATH, "dlopen-after-setenv", KASHIM_LIBRARY_PATH, KASHIM_BEHIND_PATH},
      debug);
  EXPECT_EQ(moved.out, "setsockopt: 0\n") << moved.err;
  EXPECT_EQ(read_file(report), "") << "calls reached the library opened after the shim";
  EXPECT_TRUE(walks_with_libc(moved))
      << "the premise: the environment the constructor got was moved";
  ProcessRun in_place = run_command(
      {KASHIM_LOADER_CASES_PATH, "dlopen-lazy", KASHIM_LIBRARY_PATH, KASHIM_BEHIND_PATH}, debug);
  EXPECT_EQ(in_place.out, "setsockopt: 0\n") << in_place.err;
  EXPECT_FALSE(walks_with_libc(in_place)) << "the list was not found through the program";
  unlink(report.c_str());
}

}  // namespace
}  // namespace kashim::testing
