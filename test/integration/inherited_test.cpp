// Sockets a process did not make: which of them kashim tunes, and which keep what was
// decided where they were made (shim/inherited.hpp states the rule).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "harness.hpp"

namespace kashim::testing {
namespace {

const Environment kValues = {{"KASHIM_IDLE", "42"}, {"KASHIM_INTVL", "5"}, {"KASHIM_CNT", "3"}};
constexpr const char* kTuned = "1/42/5/3";
constexpr const char* kKernels = "0/7200/75/9";  // nobody touched it

// A loopback listener (inherited: no SOCK_CLOEXEC) and `clients` connections queued on it,
// made here, without the shim.
struct LoopbackPair {
  int listener = -1;
  std::vector<int> clients;
  explicit LoopbackPair(const char* client_address = "127.0.0.1", int count = 1) {
    sockaddr_in address;
    listener = loopback_listener(0, &address, 8);
    for (int i = 0; i < count; ++i) {
      int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in source{};
      source.sin_family = AF_INET;
      inet_pton(AF_INET, client_address, &source.sin_addr);
      EXPECT_EQ(bind(client, reinterpret_cast<sockaddr*>(&source), sizeof source), 0);
      EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
      clients.push_back(client);
    }
  }
  ~LoopbackPair() {
    close(listener);
    for (int client : clients) close(client);
  }
};

// --- A listener handed across exec: found at its first accept() ---------------------------

TEST(InheritedListener, TunedAtItsFirstAcceptWithTheConnectionsQueuedBefore) {
  // Both clients connected before the probe started: queued untuned, both must come out
  // of accept() tuned. Nothing is looked at before the program accepts.
  LoopbackPair pair("127.0.0.1", 2);
  ProcessRun run = run_probe({"inherited", std::to_string(pair.listener), "accept", "2"}, kValues);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("inherited"), kKernels) << "untouched until the program accepts";
  EXPECT_EQ(run.value("accepted"), kTuned);
  EXPECT_EQ(run.value("accepted_2"), kTuned);
  EXPECT_EQ(run.value("inherited_after"), kTuned);
  ProcessRun without =
      run_probe({"inherited", std::to_string(pair.listener), "accept", "0"}, kValues, false);
  EXPECT_EQ(without.value("inherited"), kTuned) << "the listener itself stays tuned";
}

TEST(InheritedListener, WithoutTheShimNothingIsTuned) {
  LoopbackPair pair;
  ProcessRun run =
      run_probe({"inherited", std::to_string(pair.listener), "accept"}, kValues, false);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("inherited"), kKernels);
  EXPECT_EQ(run.value("accepted"), kKernels);
}

// Found by the number accept() is called with, whatever it is: no scan of the table.
TEST(InheritedListener, FoundAtAnyDescriptorNumber) {
  for (int number : {63, 64, 255, 256, 1023, 5000}) {
    LoopbackPair pair;
    ASSERT_EQ(dup2(pair.listener, number), number);
    close(pair.listener);
    pair.listener = number;
    ProcessRun run = run_probe({"inherited", std::to_string(number), "accept"}, kValues);
    expect_clean(run);
    EXPECT_EQ(run.value("accepted"), kTuned) << "descriptor " << number;
  }
}

TEST(InheritedListener, WithAFilterTheListenerIsLeftAndEachConnectionDecided) {
  LoopbackPair from_db("127.0.0.2");
  Environment environment = kValues;
  environment.emplace_back("KASHIM_PEERS", "127.0.0.2");
  ProcessRun run =
      run_probe({"inherited", std::to_string(from_db.listener), "accept"}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("inherited"), kKernels);
  EXPECT_EQ(run.value("accepted_from"), "127.0.0.2");
  EXPECT_EQ(run.value("accepted"), kTuned);
  EXPECT_EQ(run.value("inherited_after"), kKernels);

  LoopbackPair from_elsewhere("127.0.0.1");
  run = run_probe({"inherited", std::to_string(from_elsewhere.listener), "accept"}, environment);
  EXPECT_EQ(run.value("accepted"), kKernels);
}

// Someone switched its keep-alive on where it was made (a kashim there, or its program):
// that decision stands, in either mode.
TEST(InheritedListener, OneWhoseKeepaliveIsOnKeepsItsValues) {
  LoopbackPair pair("127.0.0.1", 2);
  int on = 1, idle = 77;
  setsockopt(pair.listener, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(pair.listener, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  for (const char* mode : {"fallback", "force"}) {
    ProcessRun run = run_probe({"inherited", std::to_string(pair.listener), "accept"},
                               with(kValues, "KASHIM_MODE", mode));
    EXPECT_EQ(run.value("inherited_after"), "1/77/75/9") << mode;
  }
}

// In fallback mode an option someone set is a choice too, even with keep-alive off.
TEST(InheritedListener, FallbackLeavesOneWithAnOptionOfItsOwn) {
  LoopbackPair pair("127.0.0.1", 2);
  int idle = 77;
  setsockopt(pair.listener, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ProcessRun run = run_probe({"inherited", std::to_string(pair.listener), "accept"},
                             with(kValues, "KASHIM_MODE", "fallback"));
  EXPECT_EQ(run.value("inherited_after"), "0/77/75/9");
  run = run_probe({"inherited", std::to_string(pair.listener), "accept"}, kValues);
  EXPECT_EQ(run.value("accepted"), kTuned) << "force: the operator's values, queued ones too";
  EXPECT_EQ(run.value("inherited_after"), kTuned);
}

// The record of a listener being drained belongs to that socket, not to its number: the
// program closes the inherited listener and opens its own under the same number.
TEST(InheritedListener, ANewListenerUnderTheSameNumberIsNotDrained) {
  LoopbackPair pair("127.0.0.1", 2);
  ProcessRun run = run_probe({"reused-listener", std::to_string(pair.listener)},
                             with(kValues, "KASHIM_MODE", "fallback"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("first"), kTuned) << "the inherited listener's queued connection";
  EXPECT_EQ(run.value("same_number"), "yes");
  EXPECT_EQ(run.value("own"), "1/99/5/3") << "the program's own listener keeps its idle";
}

// --- Connections handed over ------------------------------------------------------------

// inetd (and systemd's StandardInput=socket) hands the connection over as standard input.
std::vector<std::string> on_stdin(int fd) {
  return {"sh", "-c", "exec \"$0\" \"$@\" 0<&" + std::to_string(fd)};
}

TEST(InheritedConnection, OnStandardInputLikeInetdIsTuned) {
  LoopbackPair pair;
  int connection = accept(pair.listener, nullptr, nullptr);  // inherited by the probe
  ASSERT_GE(connection, 0);
  Environment environment = with(kValues, "LD_PRELOAD", KASHIM_LIBRARY_PATH);
  // sh runs under the shim too: its standard input is not the socket; the probe's is.
  ProcessRun run = run_probe_launched_by(on_stdin(connection), {"inherited", "0"}, environment);
  EXPECT_EQ(run.value("inherited"), kTuned) << run.err;
  close(connection);
}

// The same handed down by a parent that runs kashim itself (sh, which stays to wait for the
// child): the parent decided, the child leaves it. Unless the program list leaves the
// parent out (a host-wide kashim.conf may leave inetd out): then nothing decided.
std::vector<std::string> on_stdin_of_a_child(int fd) {
  return {"sh", "-c", "\"$0\" \"$@\" 0<&" + std::to_string(fd) + "; exit $?"};
}

TEST(InheritedConnection, FromAParentUnderKashimItIsLeftUnlessItsProgramIsOutOfScope) {
  LoopbackPair pair;
  int connection = accept(pair.listener, nullptr, nullptr);
  ASSERT_GE(connection, 0);
  Environment environment = with(kValues, "LD_PRELOAD", KASHIM_LIBRARY_PATH);
  ProcessRun run =
      run_probe_launched_by(on_stdin_of_a_child(connection), {"inherited", "0"}, environment);
  EXPECT_EQ(run.value("inherited"), kKernels) << run.err;
  environment.emplace_back("KASHIM_PROGRAMS", "kashim_probe");
  run = run_probe_launched_by(on_stdin_of_a_child(connection), {"inherited", "0"}, environment);
  EXPECT_EQ(run.value("inherited"), kTuned) << run.err;
  close(connection);
}

TEST(InheritedConnection, TheFilterDecidesAsForAnAcceptedOne) {
  LoopbackPair pair;
  int connection = accept(pair.listener, nullptr, nullptr);
  ASSERT_GE(connection, 0);
  auto value_under = [&](const std::string& name, const std::string& value) {
    Environment environment = with(kValues, "LD_PRELOAD", KASHIM_LIBRARY_PATH);
    environment.emplace_back(name, value);
    return run_probe_launched_by(on_stdin(connection), {"inherited", "0"}, environment)
        .value("inherited");
  };
  EXPECT_EQ(value_under("KASHIM_DIRECTION", "out"), kKernels);
  EXPECT_EQ(value_under("KASHIM_PEERS", "127.0.0.2"), kKernels);
  EXPECT_EQ(value_under("KASHIM_PEERS", "127.0.0.1"), kTuned);
  close(connection);
}

TEST(InheritedConnection, UnderAnyOtherNumberItKeepsWhatItsMakerDecided) {
  LoopbackPair pair;
  int connection = accept(pair.listener, nullptr, nullptr);
  ASSERT_GE(connection, 0);
  EXPECT_EQ(run_probe({"inherited", std::to_string(connection)}, kValues).value("inherited"),
            kKernels);
  close(connection);
}

// --- A child of a program under kashim: the parent's decisions stand ----------------------

struct Handoff {
  const char* name;
  std::vector<std::string> args;  // after the port
  Environment extra;
};

void PrintTo(const Handoff& handoff, std::ostream* out) {
  *out << handoff.name;
}

class ChildOfATunedProgram : public ::testing::TestWithParam<Handoff> {};

TEST_P(ChildOfATunedProgram, NeverChangesWhatTheParentDecided) {
  LoopbackPair server;
  sockaddr_in address{};
  socklen_t length = sizeof address;
  getsockname(server.listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::vector<std::string> scenario = {"handoff", std::to_string(ntohs(address.sin_port))};
  if (!GetParam().args.empty() && GetParam().args.front() == "listen") scenario = {"handoff"};
  scenario.insert(scenario.end(), GetParam().args.begin(), GetParam().args.end());
  Environment environment = kValues;
  environment.insert(environment.end(), GetParam().extra.begin(), GetParam().extra.end());
  ProcessRun run = run_probe(scenario, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("child_status"), "0") << run.err;
  EXPECT_EQ(run.value("after_child"), run.value("before_child")) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Inherited, ChildOfATunedProgram,
    ::testing::Values(
        Handoff{"FallbackOwnValues", {"own"}, {{"KASHIM_MODE", "fallback"}}},
        Handoff{"DirectionInDeclinedTheOutgoingOne", {}, {{"KASHIM_DIRECTION", "in"}}},
        Handoff{"PeersExcludedIt", {}, {{"KASHIM_PEERS", "10.0.0.0/8"}}},
        Handoff{"PeersExcludedItUnderItsOwnNumber", {"as-fd"}, {{"KASHIM_PEERS", "10.0.0.0/8"}}},
        Handoff{"FallbackListenerWithOwnValues", {"listen", "own"}, {{"KASHIM_MODE", "fallback"}}}),
    [](const auto& info) { return std::string(info.param.name); });

// --- systemd-socket-activate: the real thing -----------------------------------------------

bool socket_activate_available() {
  return run_command({"systemd-socket-activate", "--version"}, {}).exit_code == 0;
}

// Connects to 127.0.0.1:port as soon as something listens there (bounded: 10 s), and keeps
// the connection open until the returned thread is joined.
std::thread connect_when_listening(int port, bool* connected) {
  return std::thread([port, connected] {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<in_port_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        *connected = true;
        pollfd closed{fd, POLLIN, 0};  // until the service closes it (or exits)
        poll(&closed, 1, 10000);
        close(fd);
        return;
      }
      close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // not listening yet
    }
  });
}

class SocketActivation : public ::testing::Test {
 protected:
  void SetUp() override { KASHIM_REQUIRE(socket_activate_available(), "systemd-socket-activate"); }
  // systemd-socket-activate itself runs without the shim: only the service gets it, as
  // with Environment=LD_PRELOAD=... in a unit.
  std::vector<std::string> launcher(int port, bool accept_mode) {
    std::vector<std::string> argv = {"systemd-socket-activate", "-l",
                                     "127.0.0.1:" + std::to_string(port)};
    if (accept_mode) argv.push_back("--accept");
    argv.insert(argv.end(), {"-E", "LD_PRELOAD=" + preload_value(KASHIM_LIBRARY_PATH)});
    for (const auto& [name, value] : kValues) argv.insert(argv.end(), {"-E", name + "=" + value});
    return argv;
  }
};

TEST_F(SocketActivation, TheListenerIsTunedAtStartAndTheQueuedConnectionToo) {
  int port = free_port();
  bool connected = false;
  std::thread client = connect_when_listening(port, &connected);
  ProcessRun run = run_probe_launched_by(launcher(port, false), {"inherited", "3", "accept"}, {});
  client.join();
  ASSERT_TRUE(connected);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("inherited"), kTuned) << "LISTEN_FDS: at start " << run.err;
  EXPECT_EQ(run.value("accepted"), kTuned) << "queued before the service started";
}

TEST_F(SocketActivation, AcceptModeHandsATunedConnection) {
  int port = free_port();
  bool connected = false;
  std::thread client = connect_when_listening(port, &connected);
  ProcessRun run =
      run_probe_launched_by(launcher(port, true), {"inherited", "3", "stop-parent"}, {});
  client.join();
  ASSERT_TRUE(connected);
  EXPECT_EQ(run.value("inherited"), kTuned) << run.err;
}

}  // namespace
}  // namespace kashim::testing
