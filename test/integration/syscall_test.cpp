// What the shim costs, in system calls: counted with strace, phase by phase, with and
// without the shim, for the same program doing the same work. Counts, not timings: they are
// exact on any machine, loaded or not.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

using Counts = std::map<std::string, int>;  // system call name -> how many

constexpr int kRepeats = 10;  // each phase does its work this many times

bool strace_available() {
  return run_command({"strace", "-V"}, {}).exit_code == 0;
}

// The probe's "phases" scenario under strace; for each phase, the system calls made between
// its markers close(-100N) and close(-200N).
std::map<int, Counts> count_phases(const Environment& environment, bool preload) {
  std::string trace =
      "/tmp/kashim-strace-" + std::to_string(getpid()) + "-" + std::to_string(preload) + ".txt";
  // LD_PRELOAD for the traced program only (strace -E), not for strace itself.
  std::vector<std::string> command = {"strace", "-qq", "-o", trace};
  if (preload)
    command.insert(command.end(), {"-E", "LD_PRELOAD=" + preload_value(KASHIM_LIBRARY_PATH)});
  command.insert(command.end(),
                 {KASHIM_PROBE_PATH, "/dev/null", "phases", std::to_string(kRepeats)});
  ProcessRun run = run_command(command, environment);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::map<int, Counts> phases;
  std::ifstream in(trace);
  std::regex marker(R"(^close\(-([12])00(\d)\))");
  std::regex call(R"(^([a-z0-9_]+)\()");
  int current = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, marker)) {
      current = match[1] == "1" ? std::stoi(match[2]) : 0;
    } else if (current != 0 && std::regex_search(line, match, call)) {
      ++phases[current][match[1]];
    }
  }
  unlink(trace.c_str());
  return phases;
}

class SystemCalls : public ::testing::Test {
 protected:
  void SetUp() override { KASHIM_REQUIRE(strace_available(), "strace"); }
};

// Three options configured: each tuned socket costs SO_KEEPALIVE + 3 setsockopt calls.
const Environment kThreeOptions = {
    {"KASHIM_IDLE", "30"}, {"KASHIM_INTVL", "5"}, {"KASHIM_CNT", "3"}};

TEST_F(SystemCalls, ExactlyOnePlusTheConfiguredOptionsPerTunedSocketAndNothingElse) {
  std::map<int, Counts> without = count_phases(kThreeOptions, false);
  std::map<int, Counts> with = count_phases(kThreeOptions, true);
  ASSERT_EQ(without.size(), 6u) << "every phase was seen";

  // Phase 1: 2 x kRepeats TCP sockets, each 1 + 3 setsockopt calls more; nothing else.
  Counts expected = without[1];
  expected["setsockopt"] += 2 * kRepeats * (1 + 3);
  EXPECT_EQ(with[1], expected);
  // Phase 2: UDP and AF_UNIX sockets: not one system call more.
  EXPECT_EQ(with[2], without[2]);
  // Phase 3: accepted on a listener made under the shim: the kernel copies its options.
  EXPECT_EQ(with[3], without[3]);
  // Phase 4: the program's own setsockopt calls in force mode, their values in static
  // memory. Each reaches the kernel as the program made it (so that an invalid or unreadable
  // value gets the kernel's own error: the shim does not read memory that may not be
  // there); one that succeeded is followed by the operator's value (TCP_KEEPINTVL,
  // TCP_KEEPIDLE), and SO_KEEPALIVE is read back to see whether the program switched it
  // off (it switched it on).
  expected = without[4];
  EXPECT_EQ(expected["setsockopt"], 3 * kRepeats);
  expected["setsockopt"] += 2 * kRepeats;
  expected["getsockopt"] += kRepeats;
  EXPECT_EQ(with[4], expected);
  // Phase 6: the same calls with the values where the shim reads them without risk (on the
  // stack page it runs on, as a caller's local variable most often is): the operator's
  // value goes in the program's one call, and a switch-on of SO_KEEPALIVE needs no look.
  EXPECT_EQ(without[6]["setsockopt"], 3 * kRepeats);
  EXPECT_EQ(with[6], without[6]);
  // Phase 5: connect() costs nothing beyond the socket's own tuning.
  expected = without[5];
  expected["setsockopt"] += kRepeats * (1 + 3);
  EXPECT_EQ(with[5], expected);
}

TEST_F(SystemCalls, OnlySoKeepaliveWhenNothingElseIsConfigured) {
  std::map<int, Counts> without = count_phases({}, false);
  std::map<int, Counts> with = count_phases({}, true);
  Counts expected = without[1];
  expected["setsockopt"] += 2 * kRepeats;
  EXPECT_EQ(with[1], expected);
  EXPECT_EQ(with[2], without[2]);
}

// With a filter, sockets are decided at connect() and accept(): socket() costs nothing, a
// connection to a peer no pattern matches costs nothing, an accepted one the look-up of its
// peer (getpeername), and a tuned one the two questions that prove it is TCP (SO_TYPE,
// SO_PROTOCOL), its options, and in force mode its identity (fstat) for the record that
// keeps the operator's values on it and on no other socket under the same number.
TEST_F(SystemCalls, WithAFilterOnlyMatchingConnectionsCostMore) {
  Environment elsewhere = kThreeOptions;
  elsewhere.emplace_back("KASHIM_PEERS", "10.0.0.0/8");
  std::map<int, Counts> without = count_phases(elsewhere, false);
  std::map<int, Counts> with = count_phases(elsewhere, true);
  EXPECT_EQ(with[1], without[1]);
  EXPECT_EQ(with[2], without[2]);
  Counts expected = without[3];
  expected["getpeername"] += kRepeats;
  EXPECT_EQ(with[3], expected);
  EXPECT_EQ(with[4], without[4]) << "the program's own settings on an untuned socket";
  EXPECT_EQ(with[5], without[5]);

  Environment loopback = kThreeOptions;
  loopback.emplace_back("KASHIM_PEERS", "127.0.0.1");
  with = count_phases(loopback, true);
  EXPECT_EQ(with[1], without[1]);
  expected = without[3];
  expected["getpeername"] += kRepeats;
  expected["getsockopt"] += 2 * kRepeats;
  expected["setsockopt"] += kRepeats * (1 + 3);
  expected["newfstatat"] += kRepeats;
  expected["mmap"] += 2;  // the records: their table of pages and the first page
  EXPECT_EQ(with[3], expected);
  expected = without[5];
  expected["getsockopt"] += 2 * kRepeats;
  expected["setsockopt"] += kRepeats * (1 + 3);
  expected["newfstatat"] += kRepeats;
  EXPECT_EQ(with[5], expected);
}

// Every system call /bin/true makes from its execve on, by name, with `library` preloaded.
Counts count_start(const std::string& library, const Environment& environment) {
  std::string trace = "/tmp/kashim-strace-start-" + std::to_string(getpid()) + ".txt";
  ProcessRun run = run_command(
      {"strace", "-qq", "-o", trace, "-E", "LD_PRELOAD=" + preload_value(library), "/bin/true"},
      environment);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  Counts counts;
  std::ifstream in(trace);
  std::regex call(R"(^([a-z0-9_]+)\()");
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, call)) ++counts[match[1]];
  }
  unlink(trace.c_str());
  return counts;
}

// A process that opens no socket, beside one with an empty library preloaded: what kashim
// adds to every process on a host where it is preloaded system-wide. Three system calls,
// each needed at start, all newfstatat (the call the loader itself makes to start any
// program, so that a launcher's seccomp list that lets the program start lets kashim's
// constructor run too: StartUnderASandbox.*), and made without libc
// (core/kernel.hpp): fd 2's, because log lines go to stderr only while it is the file
// it was at start; fd 0's, because inetd hands a connection over as standard input (its
// SO_TYPE is asked only of a socket); the look for /etc/kashim.conf (below). The
// configuration's parse waits for the first hooked call. Against an empty library laid out
// the default way, no mmap() more either: GNU ld's default four segments take the loader four
// calls, libkashim.so's two (Library.IsMappedInTwoSegments*) two.
TEST_F(SystemCalls, AProcessThatOpensNoSocketPaysThreeSystemCalls) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime makes system calls of its own");
  for (const Environment& environment : {Environment{}, kThreeOptions}) {
    Counts kashim = count_start(KASHIM_LIBRARY_PATH, environment);
    Counts expected = count_start(KASHIM_BENCH_EMPTY_AS_SHIM_PATH, environment);
    expected["newfstatat"] += 2;  // fd 2 and fd 0, with AT_EMPTY_PATH
    // The one look for /etc/kashim.conf: without one at start, the first hooked call opens
    // none, so a program that confines itself first (chroot, seccomp, another user) is not
    // killed and reads no file of its new root.
    expected["newfstatat"] += 1;
    if (KASHIM_LINKER_IS_LLD) {
      // lld gives the data past RELRO a segment of its own, where libkashim.so's zeroed data
      // crosses into a page of its own: one mmap() more than the empty library's.
      EXPECT_LE(kashim["mmap"], expected["mmap"] + 1);
      expected["mmap"] = kashim["mmap"];
    }
    EXPECT_EQ(kashim, expected) << "against an empty library linked as libkashim.so is";
    Counts by_default = count_start(KASHIM_BENCH_EMPTY_PATH, environment);
    by_default["newfstatat"] += 3;
    EXPECT_LE(kashim["mmap"], by_default["mmap"])
        << "against an empty library laid out the default way";
    kashim.erase("mmap");
    by_default.erase("mmap");
    EXPECT_EQ(kashim, by_default) << "against an empty library laid out the default way";
  }
}

// What the loader binds for libkashim.so in a process that opens no socket: two data symbols
// (the live environment and program name, read when a hook runs before the constructor) and
// no function. Any libc function called at start would be bound (and its code paged in) in
// every process: fstat, getsockopt, errno and strncmp cost a start ~17 us before the
// constructor stopped calling them, the look-up of the real functions in libc's symbol
// tables ~4 us before it moved to the first hooked call, and dl_iterate_phdr ~1 us (the
// loader's list is found through the program's DT_DEBUG instead). Gone with the C runtime's
// start files (-nostartfiles): __cxa_finalize, bound, and three weak symbols looked up in
// every loaded object in vain.
TEST(ProcessStart, TheLoaderBindsTwoDataSymbolsForTheLibraryAndNoFunction) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime intercepts libc");
  ProcessRun run = run_command(
      {"/bin/true"},
      {{"LD_PRELOAD", KASHIM_LIBRARY_PATH}, {"LD_DEBUG", "bindings"}, {"KASHIM_IDLE", "30"}});
  ASSERT_EQ(run.exit_code, 0);
  std::set<std::string> bound;
  std::regex binding(
      R"(binding file \S*libkashim\.so \[0\] to \S+ \[0\]: normal symbol `([^']+)')");
  for (const std::string& line : lines_of(run.err)) {
    std::smatch match;
    if (std::regex_search(line, match, binding)) bound.insert(match[1]);
  }
  EXPECT_EQ(bound, (std::set<std::string>{"environ", "program_invocation_name"}));
}

TEST_F(SystemCalls, AnInertShimCostsNothing) {
  std::map<int, Counts> without = count_phases({{"KASHIM_CNT", "500"}}, false);
  std::map<int, Counts> with = count_phases({{"KASHIM_CNT", "500"}}, true);
  EXPECT_EQ(with, without);
}

}  // namespace
}  // namespace kashim::testing
