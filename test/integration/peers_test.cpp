// Who gets tuned: KASHIM_PEERS and KASHIM_DIRECTION, decided connection by connection. Every
// verdict is read back from the kernel. All of 127.0.0.0/8 and ::1 are on loopback, so real
// connections reach several peers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

// What the probe sets itself: TCP_KEEPIDLE 1000 before connecting (and on its listeners),
// TCP_KEEPINTVL 1 after. Untouched by the shim, a connection reads back as this.
constexpr const char* kUntuned = "0/1000/1/9";
constexpr const char* kTuned = "1/42/5/3";  // force mode: every value the operator's
const Environment kValues = {{"KASHIM_IDLE", "42"}, {"KASHIM_INTVL", "5"}, {"KASHIM_CNT", "3"}};

std::string replace_port(std::string text, int port) {
  for (std::size_t at; (at = text.find("{port}")) != std::string::npos;) {
    text.replace(at, 6, std::to_string(port));
  }
  return text;
}

struct PeersCase {
  const char* name;
  const char* family;           // the probe's: v4, v6 or dual
  Environment environment;      // {port} stands for the probe's port "p"
  std::set<std::string> tuned;  // connections expected tuned; every other one untouched
};

void PrintTo(const PeersCase& test, std::ostream* out) {
  *out << test.name;
}

// Every connection the probe reports, for one family.
std::set<std::string> all_connections(const std::string& family) {
  std::vector<std::string> peers = family == "v6"
                                       ? std::vector<std::string>{"::1"}
                                       : std::vector<std::string>{"127.0.0.1", "127.0.0.2"};
  std::set<std::string> keys;
  for (const std::string& peer : peers) {
    keys.insert({"out." + peer + ".p", "out." + peer + ".q", "tfo." + peer + ".p",
                 "tfomsg." + peer + ".p", "in." + peer + ".p", "in." + peer + ".q"});
  }
  return keys;
}

class Peers : public ::testing::TestWithParam<PeersCase> {};

TEST_P(Peers, OnlyMatchingConnectionsAreTunedAndForceModeKeepsThem) {
  const PeersCase& test = GetParam();
  if (std::string(test.family) != "v4") KASHIM_REQUIRE_IPV6();
  int port = free_port();
  Environment environment = kValues;
  for (const auto& [name, value] : test.environment) {
    environment.emplace_back(name, replace_port(value, port));
  }
  ProcessRun run = run_probe({"peers", test.family, std::to_string(port)}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  for (const std::string& key : all_connections(test.family)) {
    // "tfomsg" sets no values of its own before sending; untouched it has the kernel's.
    std::string untuned = key.starts_with("tfomsg.") ? "0/7200/75/9" : kUntuned;
    EXPECT_EQ(run.value(key), test.tuned.count(key) ? kTuned : untuned) << key;
  }
  for (const auto& [key, value] : run.values) {
    if (key.starts_with("udp.")) {
      EXPECT_EQ(value, "0") << key << ": UDP is never tuned";
    } else if (key.ends_with("_sent")) {
      EXPECT_EQ(value, "ok:1") << key << ": the fast-open send went through";
    }
  }
}

// The forms, each against real connections.
INSTANTIATE_TEST_SUITE_P(
    Forms, Peers,
    ::testing::Values(
        PeersCase{"AddressAndPort",
                  "v4",
                  {{"KASHIM_PEERS", "127.0.0.2:{port}"}},
                  {"out.127.0.0.2.p", "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p"}},
        PeersCase{"Address",
                  "v4",
                  {{"KASHIM_PEERS", "127.0.0.2"}},
                  {"out.127.0.0.2.p", "out.127.0.0.2.q", "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p",
                   "in.127.0.0.2.p", "in.127.0.0.2.q"}},
        PeersCase{"Cidr",
                  "v4",
                  {{"KASHIM_PEERS", "127.0.0.0/31"}},
                  {"out.127.0.0.1.p", "out.127.0.0.1.q", "tfo.127.0.0.1.p", "tfomsg.127.0.0.1.p",
                   "in.127.0.0.1.p", "in.127.0.0.1.q"}},
        PeersCase{"CidrAndPort",
                  "v4",
                  {{"KASHIM_PEERS", "127.0.0.0/8:{port}"}},
                  {"out.127.0.0.1.p", "tfo.127.0.0.1.p", "tfomsg.127.0.0.1.p", "out.127.0.0.2.p",
                   "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p"}},
        PeersCase{"AnyAddressOnAPort",
                  "v4",
                  {{"KASHIM_PEERS", "*:{port}"}},
                  {"out.127.0.0.1.p", "tfo.127.0.0.1.p", "tfomsg.127.0.0.1.p", "out.127.0.0.2.p",
                   "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p"}},
        PeersCase{"NoPatternMatches", "v4", {{"KASHIM_PEERS", "10.0.0.0/8,[::1]"}}, {}},
        PeersCase{"SeveralPatterns",
                  "v4",
                  {{"KASHIM_PEERS", "10.0.0.0/8, 127.0.0.2/32:{port}"}},
                  {"out.127.0.0.2.p", "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p"}},
        PeersCase{"Ipv6AddressAndPort",
                  "v6",
                  {{"KASHIM_PEERS", "[::1]:{port}"}},
                  {"out.::1.p", "tfo.::1.p", "tfomsg.::1.p"}},
        PeersCase{"Ipv6Cidr", "v6", {{"KASHIM_PEERS", "[::]/0"}}, all_connections("v6")},
        PeersCase{"Ipv6CidrAndPort",
                  "v6",
                  {{"KASHIM_PEERS", "[::]/127:{port}"}},
                  {"out.::1.p", "tfo.::1.p", "tfomsg.::1.p"}},
        PeersCase{"Ipv4PatternsMissIpv6Peers", "v6", {{"KASHIM_PEERS", "0.0.0.0/0"}}, {}},
        PeersCase{"MappedPeersMatchIpv4Patterns",
                  "dual",
                  {{"KASHIM_PEERS", "127.0.0.2"}},
                  {"out.127.0.0.2.p", "out.127.0.0.2.q", "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p",
                   "in.127.0.0.2.p", "in.127.0.0.2.q"}},
        PeersCase{"MappedPeersAreNotIpv6Peers", "dual", {{"KASHIM_PEERS", "[::]/0"}}, {}},
        PeersCase{"AnyAddressOnAPortDualStack",
                  "dual",
                  {{"KASHIM_PEERS", "*:{port}"}},
                  {"out.127.0.0.1.p", "tfo.127.0.0.1.p", "tfomsg.127.0.0.1.p", "out.127.0.0.2.p",
                   "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p"}}),
    [](const auto& info) { return std::string(info.param.name); });

// Directions, with and without peers; "in" covers accepted connections.
INSTANTIATE_TEST_SUITE_P(
    Directions, Peers,
    ::testing::Values(
        PeersCase{"Out",
                  "v4",
                  {{"KASHIM_DIRECTION", "out"}},
                  {"out.127.0.0.1.p", "out.127.0.0.1.q", "tfo.127.0.0.1.p", "tfomsg.127.0.0.1.p",
                   "out.127.0.0.2.p", "out.127.0.0.2.q", "tfo.127.0.0.2.p", "tfomsg.127.0.0.2.p"}},
        PeersCase{"In",
                  "v4",
                  {{"KASHIM_DIRECTION", "in"}},
                  {"in.127.0.0.1.p", "in.127.0.0.1.q", "in.127.0.0.2.p", "in.127.0.0.2.q"}},
        PeersCase{"InFromOnePeer",
                  "v4",
                  {{"KASHIM_DIRECTION", "in"}, {"KASHIM_PEERS", "127.0.0.2"}},
                  {"in.127.0.0.2.p", "in.127.0.0.2.q"}},
        PeersCase{"OutToOnePeerIpv6",
                  "v6",
                  {{"KASHIM_DIRECTION", "OUT"}, {"KASHIM_PEERS", "[::1]"}},
                  {"out.::1.p", "out.::1.q", "tfo.::1.p", "tfomsg.::1.p"}},
        PeersCase{"Both",
                  "v4",
                  {{"KASHIM_DIRECTION", "both"}, {"KASHIM_PEERS", "127.0.0.1"}},
                  {"out.127.0.0.1.p", "out.127.0.0.1.q", "tfo.127.0.0.1.p", "tfomsg.127.0.0.1.p",
                   "in.127.0.0.1.p", "in.127.0.0.1.q"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PeersDoneWhen, OneDatabasePeerTunedTheNeighbourUntouched) {
  // The example: KASHIM_PEERS=127.0.0.2:5432 tunes a connection to 127.0.0.2:5432
  // and leaves one to 127.0.0.1:5432 alone (5432 if free, else another port the same way).
  int port = free_port();
  Environment environment = kValues;
  environment.emplace_back("KASHIM_PEERS", "127.0.0.2:" + std::to_string(port));
  ProcessRun run = run_probe({"peers", "v4", std::to_string(port)}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("out.127.0.0.2.p"), kTuned);
  EXPECT_EQ(run.value("out.127.0.0.1.p"), kUntuned);
}

TEST(PeersFallback, TheProgramsOwnSettingsWinOnTunedConnections) {
  // Before connecting the program set idle 1000 (on its listeners too), after it intvl 1:
  // both stand; the count, which it never set, is the operator's.
  int port = free_port();
  Environment environment = kValues;
  environment.insert(environment.end(),
                     {{"KASHIM_PEERS", "127.0.0.2"}, {"KASHIM_MODE", "fallback"}});
  ProcessRun run = run_probe({"peers", "v4", std::to_string(port)}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* key : {"out.127.0.0.2.p", "out.127.0.0.2.q", "tfo.127.0.0.2.p", "in.127.0.0.2.p",
                          "in.127.0.0.2.q"}) {
    EXPECT_EQ(run.value(key), "1/1000/1/3") << key;
  }
  EXPECT_EQ(run.value("tfomsg.127.0.0.2.p"), "1/42/5/3") << "set nothing itself: all operator's";
  for (const char* key : {"out.127.0.0.1.p", "tfo.127.0.0.1.p", "in.127.0.0.1.q"}) {
    EXPECT_EQ(run.value(key), kUntuned) << key;
  }
}

TEST(PeersLogging, InfoSaysWhichPatternMatchedAndWhyTheOthersWereNot) {
  int port = free_port();
  Environment environment = kValues;
  environment.insert(environment.end(), {{"KASHIM_PEERS", "127.0.0.2:" + std::to_string(port)},
                                         {"KASHIM_LOG", "info"}});
  ProcessRun run = run_probe({"peers", "v4", std::to_string(port)}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string p = std::to_string(port);
  EXPECT_NE(run.err.find("connecting to 127.0.0.2:" + p + ": tuned (KASHIM_PEERS 127.0.0.2:" + p +
                         "), keep-alive on, idle 42s, intvl 5s, cnt 3"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("connecting to 127.0.0.1:" + p +
                         ": not tuned (no KASHIM_PEERS pattern matches; KASHIM_DIRECTION=both)"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(run.out, "");
}

// Settings from the configuration file are named by their keys there: the operator looks for
// `peers` in the file, not for a variable nobody set.
TEST(PeersLogging, SettingsFromTheFileAreNamedByTheirKeys) {
  int port = free_port();
  std::string p = std::to_string(port);
  const std::string file = scratch_path("peers-logging.conf");
  { std::ofstream(file) << "peers = 127.0.0.2:" << p << "\ndirection = both\n"; }
  chmod(file.c_str(), 0644);
  Environment environment = kValues;
  environment.insert(environment.end(), {{"KASHIM_CONFIG", file}, {"KASHIM_LOG", "info"}});
  ProcessRun run = run_probe({"peers", "v4", p}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("connecting to 127.0.0.2:" + p + ": tuned (peers 127.0.0.2:" + p + "), "),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("connecting to 127.0.0.1:" + p +
                         ": not tuned (no peers pattern matches; direction=both)"),
            std::string::npos)
      << run.err;
}

TEST(PeersBadInput, ABadPatternIsOneErrorLineAndTheShimStaysInert) {
  int port = free_port();
  Environment environment = kValues;
  environment.emplace_back("KASHIM_PEERS", "127.0.0.2, 10.0.0.0/33");
  ProcessRun run = run_probe({"peers", "v4", std::to_string(port)}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err,
            "kashim: KASHIM_PEERS pattern \"10.0.0.0/33\" has a prefix that is not /0 to /32 "
            "(accepted: comma-separated ADDRESS[/PREFIX][:PORT] or *:PORT, IPv6 in brackets "
            "when a port follows, e.g. 10.0.0.0/8, 192.0.2.7:5432, fd00::/8, "
            "[2001:db8::]/32:443, [::1]:6379, *:6379); keep-alive settings not applied\n");
  EXPECT_EQ(run.value("out.127.0.0.2.p"), kUntuned);
  EXPECT_EQ(run.value("in.127.0.0.2.p"), kUntuned);
}
}  // namespace
}  // namespace kashim::testing
