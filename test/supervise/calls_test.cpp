// Each notified call, with the values read back from the kernel, and the calls the filter
// must let through without a notification.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

// A function, not a constant: kTuned lives in another file, initialised in no set order.
Environment debug_tuned() {
  return with(kTuned, "KASHIM_LOG", "debug");
}
constexpr const char* kTunedValues = "1/31/7/4/2500";

TEST(SuperviseCalls, ConnectAndListenAreTunedAndCounted) {
  ProcessRun run = run_supervised_probe({"connect"}, debug_tuned());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("client"), kTunedValues);
  // accept() is not notified: the listener was tuned at listen(), and the kernel copies it.
  EXPECT_EQ(run.value("accepted"), kTunedValues);
  EXPECT_EQ(notification_count(run, "connect"), 1) << run.err;
  EXPECT_EQ(notification_count(run, "listen"), 1);
  EXPECT_EQ(notification_count(run, "total"), 2);
}

TEST(SuperviseCalls, UntunedWithoutTheSupervisor) {
  ProcessRun run = run_supervised_probe({"connect"}, kTuned, /*supervised=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.value("client"), kTunedValues) << "a static program is out of LD_PRELOAD's reach";
}

// A listener COMMAND inherits (socket activation, or any parent) is tuned before exec, as
// the library tunes it: connections accepted on it inherit the values.
TEST(SuperviseCalls, AnInheritedListenerIsTunedBeforeExec) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);  // no SOCK_CLOEXEC: inherited
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  const std::string fd = std::to_string(listener);
  // The same listener each time, so in this order: untuned until the last run.
  ProcessRun plain = run_supervised_probe({"accept-inherited", fd}, {}, /*supervised=*/false);
  ProcessRun filtered =
      run_supervised_probe({"accept-inherited", fd}, with(kTuned, "KASHIM_DIRECTION", "out"));
  ProcessRun run = run_supervised_probe({"accept-inherited", fd}, kTuned);
  close(listener);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("accepted"), kTunedValues);
  EXPECT_NE(plain.value("accepted"), kTunedValues) << "the test's own listener is untuned";
  EXPECT_EQ(filtered.value("accepted"), plain.value("accepted"));
}

TEST(SuperviseCalls, UnrelatedCallsAreNeverNotified) {
  ProcessRun run = run_supervised_probe({"unrelated", "200"}, debug_tuned());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("sent"), "200");
  EXPECT_EQ(run.value("set"), "400");
  EXPECT_EQ(notification_count(run, "total"), 0) << run.err;
}

TEST(SuperviseCalls, ForceModeAnswersTheProgramsSetsWithTheConfiguredValues) {
  ProcessRun run = run_supervised_probe({"set"}, debug_tuned());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* option : {"keepalive", "idle", "intvl", "cnt", "user_timeout"}) {
    EXPECT_EQ(run.value(std::string("set_") + option), "ok errno:4242") << option;
  }
  EXPECT_EQ(run.value("after"), kTunedValues);
  EXPECT_EQ(notification_count(run, "setsockopt"), 5) << run.err;
}

TEST(SuperviseCalls, FallbackModeLetsTheProgramsSetsLand) {
  ProcessRun run = run_supervised_probe({"set"}, with(debug_tuned(), "KASHIM_MODE", "fallback"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* option : {"keepalive", "idle", "intvl", "cnt", "user_timeout"}) {
    EXPECT_EQ(run.value(std::string("set_") + option), "ok errno:4242") << option;
  }
  EXPECT_EQ(run.value("after"), "0/1000/1/10/1234");
}

TEST(SuperviseCalls, FastOpenSendsAreTunedLikeConnect) {
  ProcessRun plain = run_supervised_probe({"fastopen"}, {}, /*supervised=*/false);
  ProcessRun run = run_supervised_probe({"fastopen"}, debug_tuned());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("sendto"), plain.value("sendto"));
  EXPECT_EQ(run.value("sendmsg"), plain.value("sendmsg"));
  EXPECT_EQ(run.value("sendto_values"), kTunedValues);
  EXPECT_EQ(run.value("sendmsg_values"), kTunedValues);
  EXPECT_EQ(notification_count(run, "fastopen"), 2) << run.err;
}

TEST(SuperviseCalls, SixteenThreadsConnectingAtOnceAreAllTuned) {
  ProcessRun run = run_supervised_probe({"threads", "16", "31"}, debug_tuned());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("tuned"), "16");
  EXPECT_EQ(notification_count(run, "connect"), 16) << run.err;
}

// With a peer filter, the connect() the kernel takes decides, as in the preload
// (after_connect): a first attempt refused at once (ECONNREFUSED), then one to a peer the
// filter names. The supervisor decided at the first attempt for good: left untuned.
TEST(SuperviseCalls, WithAFilterTheConnectThatSucceedsDecides) {
  const ProcessRun run = run_supervised_probe({"retry"}, with(kTuned, "KASHIM_PEERS", "127.0.0.2"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("first"), "fail:" + std::to_string(ECONNREFUSED)) << "the premise";
  EXPECT_EQ(run.value("second"), "ok") << "the premise";
  EXPECT_EQ(run.value("values"), kTunedValues) << run.err;
}

// Fallback mode: an option the program sets after a refused connect() and before it tries
// again is its own at the second, as under the preload (tuned at the first, decided again at
// the second).
TEST(SuperviseCalls, AnOptionSetBetweenARefusedConnectAndTheRetryStaysTheProgramsInFallbackMode) {
  const ProcessRun run =
      run_supervised_probe({"retry", "own-idle"}, with(kTuned, "KASHIM_MODE", "fallback"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("first"), "fail:" + std::to_string(ECONNREFUSED)) << "the premise";
  EXPECT_EQ(run.value("second"), "ok") << "the premise";
  EXPECT_EQ(run.value("values"), "1/11/7/4/2500") << run.err;
}

// A thread with a descriptor table of its own holds a pipe under the number of the
// process's socket. Before Linux 6.9 (pidfd_open without PIDFD_THREAD, here forced by a
// seccomp filter that refuses it) pidfd_getfd reached the process's table: the supervisor
// answered the thread's setsockopt with success and set the value on the process's socket.
TEST(SuperviseCalls, AThreadsOwnDescriptorTableIsTheOneItsCallsAreAbout) {
  const ProcessRun plain = run_supervised_probe({"unshared-table"}, kTuned, false);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.value("thread"), "ENOTSOCK") << "the premise";
  EXPECT_EQ(plain.value("process_idle"), "7200") << "the premise";
  for (const bool old_kernel : {false, true}) {
    std::vector<std::string> launcher = {supervisor_path(), "--"};
    if (old_kernel) launcher.insert(launcher.begin(), {KASHIM_SECCOMP_EXEC_PATH, "old-pidfd"});
    const ProcessRun run =
        run_probe_program(launcher, SUPERVISE_PROBE_PATH, {"unshared-table"}, kTuned);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.value("thread"), plain.value("thread")) << "old kernel: " << old_kernel;
    EXPECT_EQ(run.value("process_idle"), plain.value("process_idle")) << old_kernel;
  }
}

TEST(SuperviseCalls, ForkedAndReExecutedChildrenStaySupervised) {
  ProcessRun run = run_supervised_probe({"fork-exec"}, kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("forked"), kTunedValues);
  EXPECT_EQ(run.value("execed"), kTunedValues);
  EXPECT_EQ(run.value("exec_status"), "0");
}

TEST(SuperviseCalls, PeerFilterLeavesOtherPeersAlone) {
  ProcessRun run = run_supervised_probe({"connect"}, with(kTuned, "KASHIM_PEERS", "192.0.2.0/24"));
  ProcessRun plain = run_supervised_probe({"connect"}, {}, /*supervised=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("client"), plain.value("client"));
  EXPECT_EQ(run.value("accepted"), plain.value("accepted"));
}

TEST(SuperviseCalls, KashimProgramsScopesTheCommandByItsName) {
  ProcessRun plain = run_supervised_probe({"connect"}, {}, /*supervised=*/false);
  ProcessRun excluded =
      run_supervised_probe({"connect"}, with(kTuned, "KASHIM_PROGRAMS", "!supervise_*"));
  ASSERT_EQ(excluded.exit_code, 0) << excluded.err;
  EXPECT_EQ(excluded.value("client"), plain.value("client"));
  EXPECT_EQ(excluded.err, "");
  ProcessRun included =
      run_supervised_probe({"connect"}, with(kTuned, "KASHIM_PROGRAMS", "supervise_*"));
  EXPECT_EQ(included.value("client"), kTunedValues);
}

TEST(SuperviseCalls, DirectionOutTunesOnlyWhatTheProgramOpens) {
  ProcessRun run = run_supervised_probe({"connect"}, with(kTuned, "KASHIM_DIRECTION", "out"));
  ProcessRun plain = run_supervised_probe({"connect"}, {}, /*supervised=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("client"), kTunedValues);
  EXPECT_EQ(run.value("accepted"), plain.value("accepted"));
}

// The preload route's error matrix (kashim_probe's "errors" scenario), run with and without
// the supervisor: every return value and errno must be the same.
TEST(SuperviseCalls, FailingCallsFailTheSameWithAndWithoutTheSupervisor) {
  KASHIM_SKIP_WHEN_SANITIZED("the probe runs without its sanitizer runtime here");
  ProcessRun plain = run_probe_program({}, KASHIM_PROBE_PATH, {"errors"}, {});
  ProcessRun supervised =
      run_probe_program({supervisor_path(), "--"}, KASHIM_PROBE_PATH, {"errors"}, kTuned);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(supervised.exit_code, 0) << supervised.err;
  ASSERT_GT(plain.values.size(), 20u);
  EXPECT_EQ(supervised.values, plain.values);
}

}  // namespace
}  // namespace kashim::testing
