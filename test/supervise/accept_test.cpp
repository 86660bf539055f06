// accept() and accept4() under a peer filter: each accepted connection decided by itself, as
// the library decides it, and everything else the program sees as it is without the
// supervisor (return values, errno, descriptor numbers and flags, the address and length
// written, what the client sees of a connection the kernel drops).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

constexpr const char* kTunedValues = "1/31/7/4/2500";
constexpr const char* kUntouchedValues = "0/7200/75/9/0";  // the kernel's defaults here

// Clients connect from 127.0.0.2 (matching) and 127.0.0.3 (not).
Environment with_peers() {
  return with(with(kTuned, "KASHIM_PEERS", "127.0.0.2"), "KASHIM_LOG", "debug");
}

struct Runs {
  ProcessRun plain, supervised;
};

Runs run_both(const std::vector<std::string>& scenario, const Environment& environment) {
  return {run_supervised_probe(scenario, {}, /*supervised=*/false),
          run_supervised_probe(scenario, environment)};
}

// Every result but the keep-alive values ("values_...") is the same with the supervisor.
void expect_same_but_values(const Runs& runs) {
  ASSERT_EQ(runs.plain.exit_code, 0) << runs.plain.err;
  ASSERT_EQ(runs.supervised.exit_code, 0) << runs.supervised.err;
  std::size_t compared = 0;
  for (const auto& [key, value] : runs.plain.values) {
    if (key.starts_with("values_")) continue;
    EXPECT_EQ(runs.supervised.value(key), value) << key;
    ++compared;
  }
  EXPECT_GT(compared, 0u);
  EXPECT_EQ(runs.supervised.values.size(), runs.plain.values.size());
}

TEST(SuperviseAccept, EachConnectionIsDecidedByItsPeerAndTheCallsAreUnchanged) {
  const Runs runs = run_both({"accept-forms"}, with_peers());
  expect_same_but_values(runs);
  const ProcessRun& run = runs.supervised;
  EXPECT_EQ(runs.plain.value("values_a"), kUntouchedValues) << "a static program is untouched";
  EXPECT_EQ(run.value("values_a"), kTunedValues);
  EXPECT_EQ(run.value("values_b"), kUntouchedValues) << "127.0.0.3 matches no pattern";
  for (const char* flags : {"c526336", "c524288", "c2048", "c0"}) {
    EXPECT_EQ(run.value(std::string("values_") + flags), kTunedValues) << flags;
  }
  EXPECT_EQ(run.value("values_d"), kTunedValues);
  // What the comparison covered, spelled out.
  EXPECT_EQ(run.value("c526336_flags"), "nonblock:1 cloexec:1");
  EXPECT_EQ(run.value("c0_flags"), "nonblock:0 cloexec:0");
  EXPECT_EQ(run.value("d_length"), "16");
  EXPECT_EQ(run.value("d_rest_untouched"), "1");
  EXPECT_EQ(run.value("e_length"), "16");
  EXPECT_EQ(run.value("g_bad_address"), "fail:14");
  EXPECT_EQ(run.value("g_read_only_length"), "fail:14");
  EXPECT_EQ(run.value("g_negative_length"), "fail:22");
  EXPECT_EQ(run.value("g_bad_address_client_reads"), "0") << "dropped, as the kernel drops it";
  EXPECT_EQ(run.value("g_null_length"), "fail:14") << "an address without a length";
  EXPECT_EQ(run.value("g_null_length_client_reads"), "0");
  // The library's line for each decision.
  EXPECT_TRUE(
      std::regex_search(run.err, std::regex("fd [0-9]+ accepted on fd [0-9]+ from 127.0.0.2:")))
      << run.err;
  EXPECT_NE(run.err.find(": tuned (KASHIM_PEERS 127.0.0.2), keep-alive on, idle 31s"),
            std::string::npos);
  EXPECT_NE(run.err.find("from 127.0.0.3:"), std::string::npos);
  EXPECT_NE(run.err.find(": not tuned (no KASHIM_PEERS pattern matches"), std::string::npos);
  EXPECT_EQ(notification_count(run, "accept"), 15) << run.err;
}

TEST(SuperviseAccept, WithoutAPeerFilterAcceptIsNeverNotified) {
  ProcessRun run = run_supervised_probe({"accept-forms"}, with(kTuned, "KASHIM_LOG", "debug"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("values_b"), kTunedValues) << "the tuned listener's copy";
  EXPECT_EQ(notification_count(run, "accept"), 0) << run.err;
  EXPECT_EQ(notification_count(run, "listen"), 1);
  // Nor with a filter that takes in no accepted connection.
  run = run_supervised_probe({"accept-forms"}, with(with_peers(), "KASHIM_DIRECTION", "out"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("values_a"), kUntouchedValues);
  EXPECT_EQ(notification_count(run, "accept"), 0) << run.err;
}

TEST(SuperviseAccept, AnIPv4MappedPeerOfAnIPv6ListenerMatchesAnIPv4Pattern) {
  const Runs runs = run_both({"accept-ipv6"}, with_peers());
  KASHIM_REQUIRE(runs.plain.value("ipv6") == "available", "IPv6 sockets (AF_INET6)");
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("mapped_length"), "28");
  EXPECT_EQ(runs.supervised.value("mapped_address"), "::ffff:127.0.0.2");
  EXPECT_EQ(runs.supervised.value("mapped_port"), "1");
  EXPECT_EQ(runs.supervised.value("values_mapped"), kTunedValues);
}

TEST(SuperviseAccept, ANonBlockingListenerAnswersAtOnce) {
  const Runs runs = run_both({"accept-nonblocking"}, with_peers());
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("empty"), "fail:11");
  EXPECT_EQ(runs.supervised.value("drained"), "fail:11");
  EXPECT_EQ(runs.supervised.value("values_ready"), kTunedValues);
  EXPECT_EQ(runs.supervised.value("null_length"), "fail:14") << "an address without a length";
  EXPECT_EQ(runs.supervised.value("null_length_client_reads"), "0");
  EXPECT_EQ(notification_count(runs.supervised, "accept"), 4);
}

// A server whose file-system uid or gid is not the supervisor's would own each socket it
// accepts (fstat, netfilter's meta skuid); one the supervisor accepted would be the
// supervisor's. Its accept continues untouched: the kernel's, untuned.
TEST(SuperviseAccept, AServerWithOtherFileCredentialsAcceptsItself) {
  const Runs runs = run_both({"accept-fsuid"}, with_peers());
  KASHIM_REQUIRE(runs.plain.value("fsuid") == "dropped", "root, to drop the file-system uid");
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("owner"), "65534:65534");
  EXPECT_EQ(runs.supervised.value("values_accepted"), kUntouchedValues);
  EXPECT_EQ(notification_count(runs.supervised, "accept"), 1) << runs.supervised.err;
}

TEST(SuperviseAccept, ASignalWithSaRestartLetsTheAcceptGoOn) {
  const Runs runs = run_both({"accept-signal", "restart"}, with_peers());
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("result"), "ok");
  EXPECT_EQ(runs.supervised.value("connects"), "1");
  EXPECT_EQ(runs.supervised.value("values_restarted"), kTunedValues);
  // The kernel restarts the interrupted call: a second notification.
  EXPECT_EQ(notification_count(runs.supervised, "accept"), 2) << runs.supervised.err;
}

TEST(SuperviseAccept, ASignalWithoutSaRestartFailsTheAcceptAndFreesTheListener) {
  const Runs runs = run_both({"accept-signal", "eintr"}, with_peers());
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("result"), "fail:4");
  // The program closed its listener: the supervisor's copy is gone within a tick, and the
  // port can be bound again (the probe tries for up to 3 s).
  EXPECT_EQ(runs.supervised.value("rebind"), "ok");
}

TEST(SuperviseAccept, ShutdownWakesABlockedAcceptWithEinval) {
  const Runs runs = run_both({"accept-shutdown"}, with_peers());
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("result"), "fail:22");
}

TEST(SuperviseAccept, TwoThreadsBlockedOnOneListenerGetOneConnectionEach) {
  const Runs runs = run_both({"accept-two-threads"}, with_peers());
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("matched"), "2");
  EXPECT_EQ(runs.supervised.value("values_tuned"), "2");
}

TEST(SuperviseAccept, WithNoDescriptorLeftTheConnectionStaysQueued) {
  const Runs runs = run_both({"accept-emfile"}, with_peers());
  expect_same_but_values(runs);
  EXPECT_EQ(runs.supervised.value("full"), "fail:24");
  EXPECT_EQ(runs.supervised.value("after_connects"), "1");
  EXPECT_EQ(runs.supervised.value("values_after"), kTunedValues);
}

// The one accept whose outcome differs (doc/supervise.md): the table fills while the accept
// waits. The connection the supervisor could not hand over goes to the next accept.
TEST(SuperviseAccept, AConnectionThatCannotBeHandedOverGoesToTheNextAccept) {
  const Runs runs = run_both({"accept-emfile-waiting"}, with_peers());
  ASSERT_EQ(runs.plain.exit_code, 0) << runs.plain.err;
  ASSERT_EQ(runs.supervised.exit_code, 0) << runs.supervised.err;
  EXPECT_EQ(runs.plain.value("first"), "ok");
  EXPECT_EQ(runs.supervised.value("first"), "fail:24");
  EXPECT_EQ(runs.plain.value("accepted_client"), "1");
  EXPECT_EQ(runs.supervised.value("accepted_client"), "1") << "the client was lost";
  EXPECT_EQ(runs.supervised.value("values_accepted"), kTunedValues);
  EXPECT_NE(runs.supervised.err.find("kept for the next accept on this listener"),
            std::string::npos)
      << runs.supervised.err;
}

// A server whose memory goes out of the supervisor's reach while its accept waits (it made
// itself non-dumpable, and the supervisor has no CAP_SYS_PTRACE): the peer's address cannot
// be written, so the connection is closed and the accept fails with ECONNABORTED, which
// servers retry; no connection is kept for an accept that could never take it.
TEST(SuperviseAccept, AProgramOutOfReachGetsEconnabortedRatherThanAWait) {
  std::vector<std::string> launcher;
  if (geteuid() == 0) {
    launcher = {"setpriv", "--bounding-set", "-sys_ptrace", "--inh-caps", "-sys_ptrace"};
  }
  launcher.insert(launcher.end(), {supervisor_path(), "--"});
  const ProcessRun plain = run_supervised_probe({"accept-nondumpable"}, {}, false);
  const ProcessRun supervised =
      run_probe_program(launcher, SUPERVISE_PROBE_PATH, {"accept-nondumpable"}, with_peers());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(supervised.exit_code, 0) << supervised.err;
  EXPECT_EQ(plain.value("returned"), "1");
  EXPECT_EQ(plain.value("accepted_connects"), "1");
  EXPECT_EQ(supervised.value("supervisor_waits_in_accept"), "1")
      << "the accept is the supervisor's";
  EXPECT_EQ(supervised.value("returned"), "1") << "the accept waited for another client";
  EXPECT_EQ(supervised.value("accepted"), "fail:103");
  EXPECT_NE(supervised.err.find("closed, and the accept failed with ECONNABORTED"),
            std::string::npos)
      << supervised.err;
}

// A server stopped (^Z, a debugger) while it waits in accept: the stop ends the notified
// call, so a client arriving meanwhile is one the supervisor accepted and could not hand
// over. Without kashim it waits in the queue however long the stop; with it, it is kept for
// the accept that restarts when the server continues, however long the stop (not the 10 s
// a connection is otherwise kept).
TEST(SuperviseStoppedServer, AClientArrivingWhileItIsStoppedIsServedWhenItContinues) {
  for (const bool supervised : {false, true}) {
    const std::string results = scratch_path("stopped");
    std::vector<std::string> argv;
    if (supervised) argv = {supervisor_path(), "--"};
    argv.insert(argv.end(), {SUPERVISE_PROBE_PATH, results, "accept-across-a-stop"});
    Background server = start_background(argv, with_peers());
    std::istringstream ids(server.wait_for_output("ready"));
    int pid = 0, port = 0;
    ASSERT_TRUE(ids >> pid >> port) << server.err_text;
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    const int client = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{}, to{};
    from.sin_family = to.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons(static_cast<in_port_t>(port));
    ASSERT_EQ(bind(client, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    // The stop itself is what is under test: longer than the 10 s a kept connection waits.
    std::this_thread::sleep_for(std::chrono::seconds(11));
    ASSERT_EQ(kill(pid, SIGCONT), 0);
    const int status = server.wait_status();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << supervised << server.err_text;
    const std::string text = read_file(results);
    EXPECT_NE(text.find("result=ok\n"), std::string::npos) << supervised << text << server.err_text;
    EXPECT_NE(text.find("from_matching_peer=1\n"), std::string::npos) << supervised << text;
    close(client);
    std::filesystem::remove(results);
  }
}

// Each accept the supervisor waits in is a thread of its own, counted against the user's
// RLIMIT_NPROC and the pids cgroup: it waits in at most 64 at once, and leaves the others to
// the kernel (untuned), so that a server with many threads in accept still gets them all.
TEST(SuperviseAccept, AtMost64AcceptsWaitInTheSupervisor) {
  const ProcessRun plain = run_supervised_probe({"accept-many-waiting", "70", "70"}, {}, false);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.value("all_waiting"), "1");
  EXPECT_EQ(plain.value("accepted"), "70");
  // 70 - 64 left to the kernel.
  const ProcessRun run = run_supervised_probe({"accept-many-waiting", "70", "6"}, with_peers());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("all_waiting"), "1");
  EXPECT_EQ(run.value("accepted"), "70");
  EXPECT_EQ(run.value("tuned"), "64");
  EXPECT_EQ(notification_count(run, "accept"), 70) << run.err;
}

// The preload route's error matrix (kashim_probe's "errors" scenario) with accept notified.
TEST(SuperviseAccept, FailingCallsFailTheSameWithAPeerFilter) {
  KASHIM_SKIP_WHEN_SANITIZED("the probe runs without its sanitizer runtime here");
  ProcessRun plain = run_probe_program({}, KASHIM_PROBE_PATH, {"errors"}, {});
  ProcessRun supervised =
      run_probe_program({supervisor_path(), "--"}, KASHIM_PROBE_PATH, {"errors"}, with_peers());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(supervised.exit_code, 0) << supervised.err;
  ASSERT_GT(plain.values.size(), 20u);
  EXPECT_EQ(supervised.values, plain.values);
  EXPECT_GT(notification_count(supervised, "accept"), 0) << supervised.err;
}

// Signals that interrupt the program's accept just as the supervisor takes a connection
// leave it with a connection it cannot hand over: it goes to the next accept, never lost.
TEST(SuperviseAccept, NoConnectionIsLostToSignalsInterruptingAccept) {
  const ProcessRun run = run_supervised_probe({"accept-storm", "100"}, with_peers());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("accepted"), "100");
  EXPECT_EQ(run.value("all_clients"), "1");
  EXPECT_EQ(run.value("wrong_flags"), "0");
  EXPECT_GT(std::stol(run.value("values_interrupted")), 0);
  EXPECT_EQ(run.err.find("closed"), std::string::npos) << run.err;
}

// A daemon waiting in accept when COMMAND ends: fork() copies only the supervisor's main
// thread, so the detached copy takes up the wait and still decides the connection.
TEST(SuperviseAccept, ADaemonWaitingInAcceptWhenTheProgramEndsIsStillDecided) {
  const std::string report = scratch_path("daemon-accept");
  ProcessRun run = run_supervised_probe({"daemon-accept", report}, with_peers());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(static_cast<in_port_t>(std::stoi(run.value("port"))));
  ASSERT_EQ(bind(client, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  ASSERT_TRUE(process_ends(std::stoi(run.value("daemon_pid"))));
  close(client);
  const std::string text = read_file(report);
  EXPECT_NE(text.find("accept=ok\n"), std::string::npos) << text;
  EXPECT_NE(text.find(std::string("daemon=") + kTunedValues + "\n"), std::string::npos) << text;
  std::filesystem::remove(report);
}

}  // namespace
}  // namespace kashim::testing
