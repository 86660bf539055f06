// The kernel program decides as core does: each case goes through core's wants_connection
// and through a real connection of a process in the cgroup, and both must give the expected
// verdict (tuned: keep-alive on; not tuned: the kernel's defaults). Peers by address,
// prefix and port, IPv4 and IPv6, IPv4-mapped addresses as IPv4, and direction by callback.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "../unit/fake_sources.hpp"
#include "cgroup_fixture.hpp"
#include "decide.hpp"

namespace kashim::testing {
namespace {

struct Case {
  const char* name;
  const char* peers;      // KASHIM_PEERS; {port}: the port of the connection's far end
  const char* direction;  // KASHIM_DIRECTION
  Direction side;         // kOut: the probe connects; kIn: the probe accepts
  const char* probe;      // kOut: where the probe connects; kIn: where it listens
  const char* test;       // kOut: where the test listens; kIn: the test's source address
  bool tuned;
};

constexpr Case kCases[] = {
    {"every_peer_out", "", "both", Direction::kOut, "127.0.0.1", "127.0.0.1", true},
    {"direction_in_leaves_out", "", "in", Direction::kOut, "127.0.0.1", "127.0.0.1", false},
    {"direction_out_takes_out", "", "out", Direction::kOut, "127.0.0.1", "127.0.0.1", true},
    {"other_address", "127.0.0.2", "both", Direction::kOut, "127.0.0.1", "127.0.0.1", false},
    {"same_address", "127.0.0.2", "both", Direction::kOut, "127.0.0.2", "127.0.0.2", true},
    {"outside_prefix", "127.0.0.0/31", "both", Direction::kOut, "127.0.0.2", "127.0.0.2", false},
    {"inside_prefix", "127.0.0.0/30", "both", Direction::kOut, "127.0.0.2", "127.0.0.2", true},
    {"address_and_port", "127.0.0.1:{port}", "both", Direction::kOut, "127.0.0.1", "127.0.0.1",
     true},
    {"other_port", "127.0.0.1:{other}", "both", Direction::kOut, "127.0.0.1", "127.0.0.1", false},
    {"any_address_port_ipv6", "*:{port}", "both", Direction::kOut, "::1", "::1", true},
    {"ipv6_address", "[::1]", "both", Direction::kOut, "::1", "::1", true},
    {"ipv4_pattern_ipv6_peer", "127.0.0.1", "both", Direction::kOut, "::1", "::1", false},
    {"ipv6_prefix_ipv4_peer", "[::]/0", "both", Direction::kOut, "127.0.0.1", "127.0.0.1", false},
    {"ipv6_prefix_ipv6_peer", "[::]/0", "both", Direction::kOut, "::1", "::1", true},
    {"mapped_peer_is_ipv4", "127.0.0.1", "both", Direction::kOut, "::ffff:127.0.0.1", "127.0.0.1",
     true},
    {"mapped_peer_not_ipv6", "[::1]", "both", Direction::kOut, "::ffff:127.0.0.1", "127.0.0.1",
     false},
    {"mapped_pattern_is_ipv4", "[::ffff:127.0.0.0]/104", "both", Direction::kOut, "127.0.0.1",
     "127.0.0.1", true},
    {"third_of_three_patterns", "10.0.0.0/8,[2001:db8::]/32,127.0.0.2", "both", Direction::kOut,
     "127.0.0.2", "127.0.0.2", true},
    {"every_peer_in", "", "both", Direction::kIn, "127.0.0.1", "127.0.0.1", true},
    {"direction_out_leaves_in", "", "out", Direction::kIn, "127.0.0.1", "127.0.0.1", false},
    {"direction_in_takes_in", "", "in", Direction::kIn, "127.0.0.1", "127.0.0.1", true},
    {"client_address", "127.0.0.3", "both", Direction::kIn, "127.0.0.1", "127.0.0.3", true},
    {"other_client_address", "127.0.0.3", "both", Direction::kIn, "127.0.0.1", "127.0.0.4", false},
    {"client_port", "127.0.0.3:{port}", "both", Direction::kIn, "127.0.0.1", "127.0.0.3", true},
    {"ipv6_client", "[::1]", "both", Direction::kIn, "::1", "::1", true},
    {"ipv4_client_of_dual_stack_listener", "127.0.0.1", "in", Direction::kIn, "::", "127.0.0.1",
     true},
};

std::string replaced(std::string text, const std::string& name, int value) {
  for (std::size_t at; (at = text.find(name)) != std::string::npos;) {
    text.replace(at, name.size(), std::to_string(value));
  }
  return text;
}

// The far end as the program sees it: IPv4 through an IPv6 socket is IPv4-mapped.
sockaddr_storage peer_address(const std::string& address, int port, bool ipv6_socket,
                              socklen_t* length) {
  sockaddr_storage storage{};
  in_addr v4;
  if (!ipv6_socket && inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    auto* peer = reinterpret_cast<sockaddr_in*>(&storage);
    peer->sin_family = AF_INET;
    peer->sin_addr = v4;
    peer->sin_port = htons(static_cast<uint16_t>(port));
    *length = sizeof *peer;
    return storage;
  }
  auto* peer = reinterpret_cast<sockaddr_in6*>(&storage);
  peer->sin6_family = AF_INET6;
  peer->sin6_port = htons(static_cast<uint16_t>(port));
  const std::string text =
      inet_pton(AF_INET, address.c_str(), &v4) == 1 ? "::ffff:" + address : address;
  inet_pton(AF_INET6, text.c_str(), &peer->sin6_addr);
  *length = sizeof *peer;
  return storage;
}

bool core_decision(const Case& c, const std::string& peers, const sockaddr_storage& peer,
                   socklen_t length) {
  FakeSources sources;
  sources.environment = {{"KASHIM_IDLE", "31"}, {"KASHIM_DIRECTION", c.direction}};
  if (!peers.empty()) sources.environment["KASHIM_PEERS"] = peers;
  const Config config = sources.parse();
  EXPECT_TRUE(config.error.view().empty()) << config.error.view();
  return wants_connection(config, c.side, reinterpret_cast<const sockaddr*>(&peer), length);
}

Environment environment_of(const Case& c, const std::string& peers) {
  Environment environment = {{"KASHIM_IDLE", "31"}, {"KASHIM_DIRECTION", c.direction}};
  if (!peers.empty()) environment.push_back({"KASHIM_PEERS", peers});
  return environment;
}

class CgroupDecisions : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { KASHIM_REQUIRE_CGROUP_ROUTE(); }
};

TEST_P(CgroupDecisions, KernelProgramDecidesAsCore) {
  const Case& c = GetParam();
  if (std::string(c.probe).find(':') != std::string::npos ||
      std::string(c.test).find(':') != std::string::npos) {
    KASHIM_REQUIRE_IPV6();
  }
  std::map<std::string, int> values;
  bool core = false;
  if (c.side == Direction::kOut) {
    Listener listener(c.test);
    const std::string peers =
        replaced(replaced(c.peers, "{port}", listener.port()), "{other}", listener.port() ^ 1);
    socklen_t length;
    const auto peer = peer_address(c.probe, listener.port(),
                                   std::string(c.probe).find(':') != std::string::npos, &length);
    core = core_decision(c, peers, peer, length);
    Child child(cgroup_run({kCgroupProbe, "connect", c.probe, listener.port_text()}),
                environment_of(c, peers));
    const int accepted = listener.accept_one();
    values = values_in(child.out_line());
    close(accepted);
    EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  } else {
    // The client's port is chosen first, so that a pattern can name it.
    const int source_port = free_port(c.test);
    const std::string peers = replaced(c.peers, "{port}", source_port);
    const bool dual_stack = std::string(c.probe) == "::";
    socklen_t length;
    const auto peer = peer_address(c.test, source_port,
                                   std::string(c.probe).find(':') != std::string::npos, &length);
    core = core_decision(c, peers, peer, length);
    Child child(cgroup_run({kCgroupProbe, "listen", c.probe}), environment_of(c, peers));
    const std::string announced = child.out_line();
    ASSERT_EQ(announced.rfind("port=", 0), 0u) << announced << child.rest_of_err();
    const int fd = connect_to(dual_stack ? "127.0.0.1" : c.probe, std::stoi(announced.substr(5)),
                              c.test, source_port);
    values = values_in(child.out_line());
    close(fd);
    EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  }
  EXPECT_EQ(core, c.tuned) << "core's wants_connection";
  EXPECT_EQ(values["keepalive"] == 1 && values["idle"] == 31, c.tuned)
      << "the kernel program: " << describe(values);
  if (!c.tuned) {
    EXPECT_EQ(describe(values), describe(untouched_values()));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CgroupDecisions, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The options are set when connect() sends its SYN, not once the connection is established:
// a connection the program opened is out however the kernel completes it, and its first SYN
// is already bounded by TCP_USER_TIMEOUT.
class CgroupConnect : public ::testing::Test {
 protected:
  void SetUp() override { KASHIM_REQUIRE_CGROUP_ROUTE(); }
};

// A socket connecting to its own address: the kernel completes it by simultaneous open and
// reports it as a passive open, but the program called connect().
TEST_F(CgroupConnect, ASimultaneousOpenIsDirectionOut) {
  for (const char* direction : {"out", "in"}) {
    const Case c = {"self",
                    "",
                    direction,
                    Direction::kOut,
                    "127.0.0.1",
                    "127.0.0.1",
                    std::string(direction) == "out"};
    socklen_t length;
    const auto peer = peer_address("127.0.0.1", 1, false, &length);
    EXPECT_EQ(core_decision(c, "", peer, length), c.tuned) << "core's wants_connection";
    Child child(cgroup_run({kCgroupProbe, "selfconnect", "127.0.0.1"}), environment_of(c, ""));
    const auto values = values_in(child.out_line());
    EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
    EXPECT_EQ(values.at("keepalive") == 1 && values.at("idle") == 31, c.tuned)
        << "--direction " << direction << ": " << describe(values);
  }
}

// A port on 127.0.0.1 that refuses connections: a socket bound there, not listening.
struct RefusingPort {
  RefusingPort() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port = std::to_string(ntohs(address.sin_port));
    }
  }
  ~RefusingPort() { close(fd); }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  std::string port;
};

// A socket whose connect() was refused connects again: it is decided for its new peer, as
// under the preload. To a peer the filter wants, it is tuned (the refused attempt had been
// decided for good, untuned); to one it does not, after a refused attempt to one it wants,
// the program's own settings stand (force mode had kept rewriting them).
TEST_F(CgroupConnect, AConnectAfterARefusedOneIsDecidedForItsOwnPeer) {
  for (const char* direction : {"out", ""}) {
    Listener listener("127.0.0.1");
    RefusingPort refusing;
    ASSERT_FALSE(refusing.port.empty());
    const Environment environment =
        with(with(kTuned, "KASHIM_DIRECTION", direction), "KASHIM_MODE", "force");
    for (const bool second_wanted : {true, false}) {
      const std::string wanted = second_wanted ? listener.port_text() : refusing.port;
      Child child(cgroup_run({kCgroupProbe, "retry", "127.0.0.1", refusing.port,
                              listener.port_text(), second_wanted ? "" : "keepalive=0,idle=100"}),
                  with(environment, "KASHIM_PEERS", "127.0.0.1:" + wanted));
      const int accepted = listener.accept_one();
      const auto values = values_in(child.out_line());
      if (accepted >= 0) close(accepted);
      EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
      const std::string where = std::string("--direction '") + direction + "', " +
                                (second_wanted ? "second wanted: " : "first wanted: ");
      EXPECT_EQ(values.at("keepalive"), second_wanted ? 1 : 0) << where << describe(values);
      EXPECT_EQ(values.at("idle"), second_wanted ? 31 : 100) << where << describe(values);
    }
  }
}

TEST_F(CgroupConnect, TheUserTimeoutBoundsAConnectNobodyAnswers) {
  // Unbounded, the SYNs are retransmitted for two minutes and the probe's alarm(8) ends it.
  Child child(cgroup_run({kCgroupProbe, "unanswered"}), {{"KASHIM_USER_TIMEOUT", "1s"}});
  EXPECT_EQ(child.out_line(), "unanswered errno=ETIMEDOUT");
  EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
}

// TCP Fast Open: the client's data rides in its SYN (sendto MSG_FASTOPEN, no connect()), the
// second time with the cookie the first one got. Both ends are tuned every time.
constexpr const char kFastOpen[] = R"(
import socket
server = socket.socket()
server.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
server.bind(("127.0.0.1", 0))
server.listen(8)
def idle(s):
    return s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) * s.getsockopt(6, 4)
for _ in range(2):
    client = socket.socket()
    client.sendto(b"x", socket.MSG_FASTOPEN, server.getsockname())
    accepted, _ = server.accept()
    print("client", idle(client), "server", idle(accepted), "data", accepted.recv(1).decode())
    client.close()
    accepted.close()
netstat = [line.split() for line in open("/proc/net/netstat") if line.startswith("TcpExt:")]
print("fast open accepted", netstat[1][netstat[0].index("TCPFastOpenPassive")])
)";

TEST_F(CgroupConnect, FastOpenClientsAndServersAreTuned) {
  KASHIM_REQUIRE(access("/usr/bin/unshare", X_OK) == 0, "unshare (util-linux)");
  // A network namespace of our own, where Fast Open may be switched on for both ends.
  const std::string script =
      "ip link set lo up && sysctl -qw net.ipv4.tcp_fastopen=3 && exec \"$@\" && exit 1";
  std::vector<std::string> argv = {"unshare", "--net", "sh", "-c", script, "sh"};
  for (const std::string& word : cgroup_run({"python3", "-c", kFastOpen})) argv.push_back(word);
  const ProcessRun run = run_command(argv, {{"KASHIM_IDLE", "31"}});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 3u) << run.out << run.err;
  EXPECT_EQ(lines[0], "client 31 server 31 data x");
  EXPECT_EQ(lines[1], "client 31 server 31 data x");
  EXPECT_EQ(lines[2], "fast open accepted 1") << "the second SYN carried the data";
}

}  // namespace
}  // namespace kashim::testing
