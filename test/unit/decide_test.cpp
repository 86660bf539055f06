#include "decide.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "fake_sources.hpp"

namespace kashim {
namespace {

using testing::FakeSources;

TEST(IsTcpSocket, TcpOverIpv4AndIpv6WithAnyCreationFlags) {
  for (int domain : {AF_INET, AF_INET6}) {
    for (int flags : {0, int{SOCK_NONBLOCK}, int{SOCK_CLOEXEC}, SOCK_NONBLOCK | SOCK_CLOEXEC}) {
      for (int protocol : {0, int{IPPROTO_TCP}}) {
        EXPECT_TRUE(is_tcp_socket(domain, SOCK_STREAM | flags, protocol))
            << domain << " " << flags << " " << protocol;
      }
    }
  }
}

TEST(IsTcpSocket, EverythingElseIsLeftAlone) {
  // The libkeepalive bug: `type & SOCK_STREAM` is also true for SOCK_RAW (3) and
  // SOCK_SEQPACKET (5).
  EXPECT_FALSE(is_tcp_socket(AF_INET, SOCK_RAW, IPPROTO_TCP));
  EXPECT_FALSE(is_tcp_socket(AF_INET, SOCK_SEQPACKET, 0));
  EXPECT_FALSE(is_tcp_socket(AF_INET, SOCK_DGRAM, 0));
  EXPECT_FALSE(is_tcp_socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP));
  EXPECT_FALSE(is_tcp_socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_FALSE(is_tcp_socket(AF_NETLINK, SOCK_RAW, 0));
  EXPECT_FALSE(is_tcp_socket(AF_PACKET, SOCK_STREAM, 0));
  EXPECT_FALSE(is_tcp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
  EXPECT_FALSE(is_tcp_socket(AF_INET, SOCK_STREAM, 262 /* IPPROTO_MPTCP */));
  EXPECT_FALSE(is_tcp_socket(AF_INET, SOCK_STREAM | 0x40 /* an unknown flag bit */, 0));
}

struct Call {
  int fd, level, optname, value;
  bool operator==(const Call&) const = default;
};

std::vector<Call> g_calls;
int g_fail_with = 0;  // errno for every recorded call, 0 for success

int recording_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  EXPECT_EQ(optlen, sizeof(int));
  g_calls.push_back({fd, level, optname, *static_cast<const int*>(optval)});
  if (g_fail_with == 0) return 0;
  errno = g_fail_with;
  return -1;
}

class ApplyKeepalive : public ::testing::Test {
 protected:
  void SetUp() override {
    g_calls.clear();
    g_fail_with = 0;
  }
  FakeSources fake;
};

TEST_F(ApplyKeepalive, OnlySoKeepaliveWhenNothingElseIsConfigured) {
  Config config = fake.parse();
  EXPECT_EQ(apply_keepalive(7, config, recording_setsockopt), 0);
  EXPECT_EQ(g_calls, (std::vector<Call>{{7, SOL_SOCKET, SO_KEEPALIVE, 1}}));
}

TEST_F(ApplyKeepalive, EachConfiguredOptionWithItsOwnValue) {
  // libkeepalive once stored TCP_KEEPCNT in the idle field: every option is checked apart.
  fake.environment = {{"KASHIM_IDLE", "11"},
                      {"KASHIM_INTVL", "22"},
                      {"KASHIM_CNT", "33"},
                      {"KASHIM_USER_TIMEOUT", "44ms"}};
  Config config = fake.parse();
  EXPECT_EQ(apply_keepalive(3, config, recording_setsockopt), 0);
  EXPECT_EQ(g_calls, (std::vector<Call>{{3, SOL_SOCKET, SO_KEEPALIVE, 1},
                                        {3, IPPROTO_TCP, TCP_KEEPIDLE, 11},
                                        {3, IPPROTO_TCP, TCP_KEEPINTVL, 22},
                                        {3, IPPROTO_TCP, TCP_KEEPCNT, 33},
                                        {3, IPPROTO_TCP, TCP_USER_TIMEOUT, 44}}));
}

TEST_F(ApplyKeepalive, UserTimeoutZeroIsApplied) {
  fake.environment = {{"KASHIM_USER_TIMEOUT", "0"}};
  Config config = fake.parse();
  apply_keepalive(3, config, recording_setsockopt);
  EXPECT_EQ(g_calls.back(), (Call{3, IPPROTO_TCP, TCP_USER_TIMEOUT, 0}));
}

TEST_F(ApplyKeepalive, FailuresAreReportedButDoNotStopTheRestNorTouchErrno) {
  fake.environment = {{"KASHIM_IDLE", "11"}, {"KASHIM_CNT", "3"}};
  Config config = fake.parse();
  g_fail_with = EPERM;
  errno = 1234;
  EXPECT_EQ(apply_keepalive(3, config, recording_setsockopt), EPERM);
  EXPECT_EQ(errno, 1234);
  EXPECT_EQ(g_calls.size(), 3u);
}

TEST_F(ApplyKeepalive, SkipsTheOptionsNamedInTheMask) {
  fake.environment = {{"KASHIM_IDLE", "11"}, {"KASHIM_INTVL", "22"}, {"KASHIM_CNT", "33"}};
  Config config = fake.parse();
  apply_keepalive(3, config, recording_setsockopt, kKeepaliveBit | managed_option_bit(1));
  EXPECT_EQ(g_calls, (std::vector<Call>{{3, IPPROTO_TCP, TCP_KEEPIDLE, 11},
                                        {3, IPPROTO_TCP, TCP_KEEPCNT, 33}}));
  g_calls.clear();
  apply_keepalive(3, config, recording_setsockopt, kAllOptionBits);
  EXPECT_TRUE(g_calls.empty());
}

TEST(OptionSetBy, NamesTheManagedOptionOfAValidCall) {
  int value = 10, zero = 0;
  EXPECT_EQ(option_set_by(SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero), kKeepaliveBit);
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value), managed_option_bit(0));
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_KEEPINTVL, &value, sizeof value), managed_option_bit(1));
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_KEEPCNT, &value, sizeof value), managed_option_bit(2));
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_USER_TIMEOUT, &zero, sizeof zero),
            managed_option_bit(3));
  // Calls the kernel refuses set nothing; other options are not the shim's.
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof zero), 0);
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_KEEPIDLE, nullptr, sizeof value), 0);
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_KEEPIDLE, &value, 2), 0);
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_NODELAY, &value, sizeof value), 0);
  EXPECT_EQ(option_set_by(SOL_SOCKET, SO_REUSEADDR, &value, sizeof value), 0);
}

sockaddr_in ipv4_peer(const char* address, in_port_t port) {
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(port);
  inet_pton(AF_INET, address, &peer.sin_addr);
  return peer;
}

TEST(WantsConnection, DirectionAndPeers) {
  FakeSources fake;
  sockaddr_in db = ipv4_peer("127.0.0.2", 5432), other = ipv4_peer("127.0.0.1", 5432);
  auto wants = [](const Config& config, Direction side, const sockaddr_in& peer) {
    return wants_connection(config, side, reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
  };
  Config everyone = fake.parse();
  EXPECT_TRUE(wants(everyone, Direction::kOut, other));
  EXPECT_TRUE(wants(everyone, Direction::kIn, other));
  EXPECT_TRUE(wants_connection(everyone, Direction::kIn, nullptr, 0))
      << "no filter, no peer needed";
  fake.environment = {{"KASHIM_PEERS", "127.0.0.2:5432"}};
  Config database = fake.parse();
  EXPECT_TRUE(wants(database, Direction::kOut, db));
  EXPECT_TRUE(wants(database, Direction::kIn, db));
  EXPECT_FALSE(wants(database, Direction::kOut, other));
  EXPECT_FALSE(wants_connection(database, Direction::kOut, nullptr, 0));
  fake.environment["KASHIM_DIRECTION"] = "out";
  Config outgoing = fake.parse();
  EXPECT_TRUE(wants(outgoing, Direction::kOut, db));
  EXPECT_FALSE(wants(outgoing, Direction::kIn, db));
  fake.environment = {{"KASHIM_DIRECTION", "in"}};
  Config incoming = fake.parse();
  EXPECT_FALSE(wants(incoming, Direction::kOut, other));
  EXPECT_TRUE(wants(incoming, Direction::kIn, other));
  Config inactive{};
  EXPECT_FALSE(wants(inactive, Direction::kOut, db));
}

TEST(ForcedValue, ReplacesConfiguredOptionsInForceMode) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"},
                      {"KASHIM_INTVL", "5"},
                      {"KASHIM_CNT", "3"},
                      {"KASHIM_USER_TIMEOUT", "20s"}};
  Config config = fake.parse();
  int libuv_interval = 1;  // what Node's libuv hard-codes
  Replacement replacement =
      forced_value(config, IPPROTO_TCP, TCP_KEEPINTVL, &libuv_interval, sizeof libuv_interval);
  EXPECT_TRUE(replacement.replace());
  EXPECT_EQ(*replacement.value, 5);
  EXPECT_EQ(replacement.value, &config.intvl_s.value)
      << "a value inside the frozen configuration, not a copy";
  EXPECT_EQ(replacement.requested, 1);
  int ten = 10;
  EXPECT_EQ(*forced_value(config, IPPROTO_TCP, TCP_KEEPCNT, &ten, sizeof ten).value, 3);
  EXPECT_EQ(*forced_value(config, IPPROTO_TCP, TCP_KEEPIDLE, &ten, sizeof ten).value, 30);
  EXPECT_EQ(*forced_value(config, IPPROTO_TCP, TCP_USER_TIMEOUT, &ten, sizeof ten).value, 20000);
}

TEST(ForcedValue, LeavesEverythingElseToTheProgram) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}};
  Config config = fake.parse();
  int value = 10;
  // Not configured: the program's value stands.
  EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_KEEPINTVL, &value, sizeof value).replace());
  // Other options and levels.
  EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_NODELAY, &value, sizeof value).replace());
  EXPECT_FALSE(forced_value(config, SOL_SOCKET, TCP_KEEPIDLE, &value, sizeof value).replace());
  // Fallback mode and an inactive shim.
  fake.environment["KASHIM_MODE"] = "fallback";
  EXPECT_FALSE(
      forced_value(fake.parse(), IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value).replace());
  Config inactive{};
  EXPECT_FALSE(forced_value(inactive, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value).replace());
}

TEST(ForcedValue, CallsTheKernelWouldRefuseGoThroughUntouched) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"},
                      {"KASHIM_INTVL", "5"},
                      {"KASHIM_CNT", "3"},
                      {"KASHIM_USER_TIMEOUT", "20s"}};
  Config config = fake.parse();
  for (int bad : {0, -1, 32768, INT_MIN}) {
    EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_KEEPIDLE, &bad, sizeof bad).replace())
        << bad;
    EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_KEEPINTVL, &bad, sizeof bad).replace())
        << bad;
  }
  for (int bad : {0, 128}) {
    EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_KEEPCNT, &bad, sizeof bad).replace()) << bad;
  }
  int negative = -5;
  EXPECT_FALSE(
      forced_value(config, IPPROTO_TCP, TCP_USER_TIMEOUT, &negative, sizeof negative).replace());
  int zero = 0;
  EXPECT_TRUE(forced_value(config, IPPROTO_TCP, TCP_USER_TIMEOUT, &zero, sizeof zero).replace());
  int good = 10;
  EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_KEEPIDLE, nullptr, sizeof good).replace());
  EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_KEEPIDLE, &good, 2).replace());
}

TEST(ForcedValue, ReadsUnalignedAndLongerValues) {
  FakeSources fake;
  fake.environment = {{"KASHIM_CNT", "3"}};
  Config config = fake.parse();
  alignas(8) unsigned char buffer[16] = {};
  int requested = 9;
  std::memcpy(buffer + 1, &requested, sizeof requested);
  Replacement replacement = forced_value(config, IPPROTO_TCP, TCP_KEEPCNT, buffer + 1, 12);
  EXPECT_TRUE(replacement.replace());
  EXPECT_EQ(replacement.requested, 9);
}

TEST(ForcedValue, ANegativeOptlenIsTheKernelsToRefuse) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}};
  Config config = fake.parse();
  int value = 10;
  // socklen_t above INT_MAX: the kernel reads it as a negative int and answers EINVAL.
  const socklen_t negative = static_cast<socklen_t>(INT_MAX) + 1;
  EXPECT_FALSE(forced_value(config, IPPROTO_TCP, TCP_KEEPIDLE, &value, negative).replace());
  EXPECT_FALSE(is_keepalive_switch_off(config, SOL_SOCKET, SO_KEEPALIVE, &value, negative));
  EXPECT_EQ(option_set_by(IPPROTO_TCP, TCP_KEEPIDLE, &value, negative), 0);
}

TEST(ForcedCall, ReplacesInOneCallWhatWouldSucceed) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}, {"KASHIM_INTVL", "5"}};
  Config config = fake.parse();
  int one = 1, off = 0;
  ForcedCall call = forced_call(config, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof one, false);
  ASSERT_TRUE(call.replacement.replace());
  EXPECT_EQ(*call.replacement.value, 5);
  EXPECT_FALSE(call.nothing_after);
  // Switching keep-alive on leaves nothing to do; switching it off is after_program_set's.
  call = forced_call(config, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one, false);
  EXPECT_FALSE(call.replacement.replace());
  EXPECT_TRUE(call.nothing_after);
  call = forced_call(config, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof off, false);
  EXPECT_FALSE(call.replacement.replace());
  EXPECT_FALSE(call.nothing_after);
  // What the kernel refuses, and options not configured: the call as it is, then the rest.
  int zero = 0;
  for (const ForcedCall& as_it_is :
       {forced_call(config, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof zero, false),
        forced_call(config, IPPROTO_TCP, TCP_KEEPIDLE, &one, 2, false),
        forced_call(config, SOL_SOCKET, SO_KEEPALIVE, &one, 2, false),
        forced_call(config, IPPROTO_TCP, TCP_KEEPCNT, &one, sizeof one, false)}) {
    EXPECT_FALSE(as_it_is.replacement.replace());
    EXPECT_FALSE(as_it_is.nothing_after);
  }
}

TEST(ForcedCall, OnlyInForceModeAndWithAFilterOnlyOnConnectionsKashimTuned) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}, {"KASHIM_PEERS", "10.0.0.0/8"}};
  Config config = fake.parse();
  int value = 7;
  EXPECT_TRUE(forced_call(config, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value, true)
                  .replacement.replace());
  // Not tuned by kashim: the program's own call, and nothing after it.
  ForcedCall untuned = forced_call(config, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value, false);
  EXPECT_FALSE(untuned.replacement.replace());
  EXPECT_TRUE(untuned.nothing_after);
  fake.environment["KASHIM_MODE"] = "fallback";
  ForcedCall fallback =
      forced_call(fake.parse(), IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value, true);
  EXPECT_FALSE(fallback.replacement.replace());
  EXPECT_FALSE(fallback.nothing_after);
}

TEST(KeepaliveSwitchOff, OnlyAValidOffInForceMode) {
  FakeSources fake;
  Config config = fake.parse();
  int off = 0, on = 1;
  EXPECT_TRUE(is_keepalive_switch_off(config, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof off));
  EXPECT_FALSE(is_keepalive_switch_off(config, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on));
  EXPECT_FALSE(is_keepalive_switch_off(config, SOL_SOCKET, SO_REUSEADDR, &off, sizeof off));
  EXPECT_FALSE(is_keepalive_switch_off(config, SOL_SOCKET, SO_KEEPALIVE, nullptr, sizeof off));
  EXPECT_FALSE(is_keepalive_switch_off(config, SOL_SOCKET, SO_KEEPALIVE, &off, 1));
  fake.environment = {{"KASHIM_MODE", "fallback"}};
  EXPECT_FALSE(is_keepalive_switch_off(fake.parse(), SOL_SOCKET, SO_KEEPALIVE, &off, sizeof off));
}

// The preload library decides after the program's own call succeeded, and without the value
// the program passed (it never reads that memory): the operator's value goes in again.
TEST(AfterProgramSet, ForceModeRestoresTheOperatorsValue) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}, {"KASHIM_USER_TIMEOUT", "20s"}};
  Config config = fake.parse();
  AfterProgramSet after = after_program_set(config, IPPROTO_TCP, TCP_KEEPIDLE, false);
  ASSERT_NE(after.restore, nullptr);
  EXPECT_EQ(*after.restore, 30);
  EXPECT_EQ(after.restore, &config.idle_s.value);
  EXPECT_FALSE(after.only_if_off);
  EXPECT_FALSE(after.only_if_tcp);
  EXPECT_EQ(after_program_set(config, IPPROTO_TCP, TCP_KEEPINTVL, false).restore, nullptr)
      << "not configured: the program's";
  EXPECT_EQ(*after_program_set(config, IPPROTO_TCP, TCP_USER_TIMEOUT, false).restore, 20000);
  EXPECT_EQ(after_program_set(config, IPPROTO_TCP, TCP_NODELAY, false).restore, nullptr);
}

TEST(AfterProgramSet, KeepaliveComesBackOnIfItReadsOffOnTcp) {
  FakeSources fake;
  Config config = fake.parse();
  AfterProgramSet after = after_program_set(config, SOL_SOCKET, SO_KEEPALIVE, false);
  ASSERT_NE(after.restore, nullptr);
  EXPECT_EQ(*after.restore, 1);
  EXPECT_TRUE(after.only_if_off) << "a program that switched it on changed nothing";
  EXPECT_TRUE(after.only_if_tcp) << "only the kernel knows what the descriptor is";
}

TEST(AfterProgramSet, WithAFilterOnlyConnectionsKashimTunedKeepItsValues) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}, {"KASHIM_PEERS", "10.0.0.0/8"}};
  Config config = fake.parse();
  EXPECT_EQ(after_program_set(config, IPPROTO_TCP, TCP_KEEPIDLE, false).restore, nullptr);
  AfterProgramSet tuned = after_program_set(config, SOL_SOCKET, SO_KEEPALIVE, true);
  ASSERT_NE(tuned.restore, nullptr);
  EXPECT_FALSE(tuned.only_if_tcp) << "a connection kashim tuned is TCP";
  EXPECT_EQ(*after_program_set(config, IPPROTO_TCP, TCP_KEEPIDLE, true).restore, 30);
}

TEST(AfterProgramSet, FallbackModeOnlyRemembersWhatTheProgramSet) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}, {"KASHIM_MODE", "fallback"}};
  EXPECT_EQ(after_program_set(fake.parse(), IPPROTO_TCP, TCP_KEEPIDLE, false).program_set, 0)
      << "without a filter there is nothing to remember: sockets were tuned at creation";
  fake.environment["KASHIM_DIRECTION"] = "out";
  Config config = fake.parse();
  AfterProgramSet after = after_program_set(config, IPPROTO_TCP, TCP_KEEPIDLE, true);
  EXPECT_EQ(after.restore, nullptr);
  EXPECT_EQ(after.program_set, managed_option_bit(0));
  EXPECT_EQ(after_program_set(config, SOL_SOCKET, SO_KEEPALIVE, true).program_set, kKeepaliveBit);
  Config inactive{};
  EXPECT_EQ(after_program_set(inactive, SOL_SOCKET, SO_KEEPALIVE, true).restore, nullptr);
}

TEST(NamesManagedOption, ExactlyTheFiveOptions) {
  EXPECT_TRUE(names_managed_option(SOL_SOCKET, SO_KEEPALIVE));
  for (const ManagedTcpOption& managed : kManagedTcpOptions) {
    EXPECT_TRUE(names_managed_option(IPPROTO_TCP, managed.optname)) << managed.optname;
  }
  EXPECT_FALSE(names_managed_option(SOL_SOCKET, SO_REUSEADDR));
  EXPECT_FALSE(names_managed_option(IPPROTO_TCP, TCP_NODELAY));
  EXPECT_FALSE(names_managed_option(IPPROTO_TCP, SO_KEEPALIVE));
  EXPECT_FALSE(names_managed_option(SOL_SOCKET, TCP_KEEPIDLE));
}

}  // namespace
}  // namespace kashim
