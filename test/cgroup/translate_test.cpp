// The translation of kashim's Config into the kernel program's settings map: every field,
// every peer form, and the text `status` shows. The kernel program's decisions on these
// settings are held to core's in decision_test.cpp, through real connections.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

#include "../unit/fake_sources.hpp"
#include "decide.hpp"
#include "translate.hpp"

namespace kashim::cgroup {
namespace {

Config parse(std::map<std::string, std::string> environment) {
  testing::FakeSources sources;
  sources.environment = std::move(environment);
  Config config = sources.parse();
  EXPECT_TRUE(config.error.view().empty()) << config.error.view();
  return config;
}

__u32 word(const char* dotted) {
  in_addr address{};
  EXPECT_EQ(inet_pton(AF_INET, dotted, &address), 1);
  return address.s_addr;
}

TEST(CgroupTranslate, DisabledConfigurationLeavesEverySocketAlone) {
  const kashim_settings settings = to_bpf_settings(parse({{"KASHIM_DISABLE", "1"}}));
  EXPECT_EQ(settings.active, 0);
  EXPECT_EQ(describe_bpf_settings(settings),
            "inactive (KASHIM_DISABLE=1): every socket left alone");
}

TEST(CgroupTranslate, ValuesGoToTheirOptionsInCoreOrder) {
  const kashim_settings settings = to_bpf_settings(parse({{"KASHIM_IDLE", "31"},
                                                          {"KASHIM_INTVL", "7"},
                                                          {"KASHIM_CNT", "4"},
                                                          {"KASHIM_USER_TIMEOUT", "2500ms"}}));
  EXPECT_EQ(settings.active, 1);
  EXPECT_EQ(settings.mode, KASHIM_MODE_FORCE);
  EXPECT_EQ(settings.direction, KASHIM_DIRECTION_BOTH);
  EXPECT_EQ(settings.tcp_set, 0x1e);
  EXPECT_EQ(settings.tcp_value[0], 31);
  EXPECT_EQ(settings.tcp_value[1], 7);
  EXPECT_EQ(settings.tcp_value[2], 4);
  EXPECT_EQ(settings.tcp_value[3], 2500);
  EXPECT_EQ(settings.peer_count, 0u);
  EXPECT_EQ(describe_bpf_settings(settings),
            "force, both directions, idle 31s, intvl 7s, cnt 4, user timeout 2500ms, peers any");
}

TEST(CgroupTranslate, UnsetOptionsAreNotSet) {
  const kashim_settings settings =
      to_bpf_settings(parse({{"KASHIM_CNT", "5"}, {"KASHIM_MODE", "fallback"}}));
  EXPECT_EQ(settings.tcp_set, KASHIM_BIT_TCP(2));
  EXPECT_EQ(settings.mode, KASHIM_MODE_FALLBACK);
  EXPECT_EQ(describe_bpf_settings(settings),
            "fallback, both directions, idle unset, intvl unset, cnt 5, user timeout unset, "
            "peers any");
}

TEST(CgroupTranslate, DirectionsMapToTheirCallbacks) {
  EXPECT_EQ(to_bpf_settings(parse({{"KASHIM_DIRECTION", "out"}})).direction, KASHIM_DIRECTION_OUT);
  EXPECT_EQ(to_bpf_settings(parse({{"KASHIM_DIRECTION", "in"}})).direction, KASHIM_DIRECTION_IN);
  EXPECT_EQ(to_bpf_settings(parse({{"KASHIM_DIRECTION", "both"}})).direction,
            KASHIM_DIRECTION_BOTH);
}

TEST(CgroupTranslate, IPv4PrefixBecomesNetAndMask) {
  const kashim_settings settings = to_bpf_settings(parse({{"KASHIM_PEERS", "10.1.2.3/8:5432"}}));
  ASSERT_EQ(settings.peer_count, 1u);
  const kashim_peer& peer = settings.peers[0];
  EXPECT_EQ(peer.family, KASHIM_PEER_IPV4);
  EXPECT_EQ(peer.port, 5432);
  EXPECT_EQ(peer.net[0], word("10.0.0.0"));
  EXPECT_EQ(peer.mask[0], word("255.0.0.0"));
  for (int i = 1; i < 4; ++i) EXPECT_EQ(peer.net[i] | peer.mask[i], 0u) << i;
}

TEST(CgroupTranslate, IPv6PrefixSpansWords) {
  const kashim_settings settings = to_bpf_settings(parse({{"KASHIM_PEERS", "[2001:db8::]/36"}}));
  ASSERT_EQ(settings.peer_count, 1u);
  const kashim_peer& peer = settings.peers[0];
  EXPECT_EQ(peer.family, KASHIM_PEER_IPV6);
  EXPECT_EQ(peer.port, 0);
  EXPECT_EQ(peer.mask[0], 0xffffffffu);
  EXPECT_EQ(peer.mask[1], htonl(0xf0000000u));
  EXPECT_EQ(peer.mask[2] | peer.mask[3], 0u);
  EXPECT_EQ(peer.net[0], htonl(0x20010db8u));
}

TEST(CgroupTranslate, MappedPatternIsIPv4AndAnyAddressKeepsItsPort) {
  const kashim_settings settings =
      to_bpf_settings(parse({{"KASHIM_PEERS", "[::ffff:127.0.0.0]/104,*:6379"}}));
  ASSERT_EQ(settings.peer_count, 2u);
  EXPECT_EQ(settings.peers[0].family, KASHIM_PEER_IPV4);
  EXPECT_EQ(settings.peers[0].mask[0], word("255.0.0.0"));
  EXPECT_EQ(settings.peers[0].net[0], word("127.0.0.0"));
  EXPECT_EQ(settings.peers[1].family, KASHIM_PEER_ANY);
  EXPECT_EQ(settings.peers[1].port, 6379);
}

TEST(CgroupTranslate, StatusDescribesThePatternsAsGiven) {
  const char* patterns = "10.0.0.0/8,192.0.2.7:5432,[2001:db8::]/32:443,[::1]:6379,*:6379";
  const kashim_settings settings =
      to_bpf_settings(parse({{"KASHIM_PEERS", patterns}, {"KASHIM_DIRECTION", "out"}}));
  EXPECT_EQ(describe_bpf_settings(settings),
            std::string("force, out only, idle unset, intvl unset, cnt unset, user timeout unset, "
                        "peers ") +
                patterns);
}

TEST(CgroupTranslate, AllThirtyTwoPatternsFit) {
  std::string patterns;
  for (int i = 0; i < kMaxPeerPatterns; ++i) {
    patterns += (i ? ",10.0.0." : "10.0.0.") + std::to_string(i);
  }
  const kashim_settings settings = to_bpf_settings(parse({{"KASHIM_PEERS", patterns}}));
  ASSERT_EQ(settings.peer_count, static_cast<__u32>(kMaxPeerPatterns));
  EXPECT_EQ(settings.peers[31].net[0], word("10.0.0.31"));
}

}  // namespace
}  // namespace kashim::cgroup
