#include "peers.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>
#include <vector>

namespace kashim {
namespace {

PeerFilter filter_of(const std::vector<std::string>& patterns) {
  PeerFilter filter;
  for (const std::string& text : patterns) {
    std::string_view problem = parse_peer_pattern(text, &filter.patterns[filter.count]);
    EXPECT_TRUE(problem.empty()) << text << ": " << problem;
    ++filter.count;
  }
  return filter;
}

// A peer as the kernel gives it to accept() or getpeername(): "a.b.c.d" or an IPv6 address.
struct Peer {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Peer peer(const std::string& address, in_port_t port) {
  Peer result;
  if (address.find(':') == std::string::npos) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&result.storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, address.c_str(), &v4->sin_addr), 1) << address;
    result.length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&result.storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr), 1) << address;
    result.length = sizeof(sockaddr_in6);
  }
  return result;
}

bool matches(const std::string& pattern, const std::string& address, in_port_t port) {
  PeerFilter filter = filter_of({pattern});
  Peer candidate = peer(address, port);
  return filter.match(candidate.get(), candidate.length) == 0;
}

std::string canonical(const std::string& text) {
  PeerPattern pattern;
  std::string_view problem = parse_peer_pattern(text, &pattern);
  if (!problem.empty()) return "error: " + std::string(problem);
  PatternText described;
  describe_peer_pattern(pattern, &described);
  return std::string(described.view());
}

TEST(PeerPattern, EveryFormParsesAndReadsBack) {
  EXPECT_EQ(canonical("10.0.0.0/8"), "10.0.0.0/8");
  EXPECT_EQ(canonical("192.0.2.7:5432"), "192.0.2.7:5432");
  EXPECT_EQ(canonical("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(canonical("192.0.2.0/24:80"), "192.0.2.0/24:80");
  EXPECT_EQ(canonical("[2001:db8::]/32:443"), "[2001:db8::]/32:443");
  EXPECT_EQ(canonical("[::1]:6379"), "[::1]:6379");
  EXPECT_EQ(canonical("[::1]"), "[::1]");
  EXPECT_EQ(canonical("[2001:db8::]/32"), "[2001:db8::]/32");
  EXPECT_EQ(canonical("*:6379"), "*:6379");
  EXPECT_EQ(canonical("*:1"), "*:1");
  EXPECT_EQ(canonical("*:65535"), "*:65535");
}

TEST(PeerPattern, HostBitsBelowThePrefixAreCleared) {
  EXPECT_EQ(canonical("10.1.2.3/8"), "10.0.0.0/8");
  EXPECT_EQ(canonical("[2001:db8::1]/32"), "[2001:db8::]/32");
  EXPECT_EQ(canonical("10.255.255.255/9"), "10.128.0.0/9");
}

TEST(PeerPattern, Ipv4MappedPatternsAreIpv4Patterns) {
  EXPECT_EQ(canonical("[::ffff:192.0.2.7]"), "192.0.2.7");
  EXPECT_EQ(canonical("[::ffff:10.0.0.0]/104:22"), "10.0.0.0/8:22");
  EXPECT_EQ(canonical("[::ffff:0:0]/96"), "0.0.0.0/0");
}

TEST(PeerPattern, EdgePrefixes) {
  EXPECT_EQ(canonical("0.0.0.0/0"), "0.0.0.0/0");
  EXPECT_EQ(canonical("192.0.2.7/32"), "192.0.2.7");
  EXPECT_EQ(canonical("[::]/0"), "[::]/0");
  EXPECT_EQ(canonical("[::1]/128"), "[::1]");
}

TEST(PeerPattern, BareIPv6WithoutAPortNeedsNoBrackets) {
  // As nginx, iptables and ip(8) read them: without brackets there is no port to confuse.
  EXPECT_EQ(canonical("::1"), "[::1]");
  EXPECT_EQ(canonical("::1/128"), "[::1]");
  EXPECT_EQ(canonical("fd00::/8"), "[fd00::]/8");
  EXPECT_EQ(canonical("2001:db8::7/64"), "[2001:db8::]/64");
  EXPECT_EQ(canonical("::ffff:10.0.0.0/104"), "10.0.0.0/8");
  // ::1:80 is an address (::0.1.0.128, as inet_ntop writes it), not ::1 port 80.
  EXPECT_NE(canonical("::1:80"), canonical("[::1]:80"));
  EXPECT_EQ(canonical("::1:80"), canonical("[::1:80]"));
}

TEST(PeerPattern, BadPatternsSayWhatIsWrong) {
  EXPECT_EQ(canonical(""), "error: is empty");
  EXPECT_EQ(canonical("1.2.3"), "error: is not an IPv4 address");
  EXPECT_EQ(canonical("256.0.0.1"), "error: is not an IPv4 address");
  EXPECT_EQ(canonical("example.com:80"), "error: is not an IPv4 address");
  EXPECT_EQ(canonical("[::g]"), "error: is not an IPv6 address");
  EXPECT_EQ(canonical("[fe80::1%eth0]"), "error: is not an IPv6 address");
  EXPECT_EQ(canonical("[1.2.3.4]"), "error: is not an IPv6 address");
  EXPECT_EQ(canonical("[::1"), "error: opens [ without closing it");
  EXPECT_EQ(canonical("[::1]x"),
            "error: has text after the address that is neither /PREFIX nor :PORT");
  EXPECT_EQ(canonical("fd00::/8:443"),
            "error: has a port after an IPv6 prefix without brackets (write "
            "[2001:db8::]/32:443)");
  EXPECT_EQ(canonical("::g"), "error: is not an IPv6 address");
  EXPECT_EQ(canonical("fd00::/129"), "error: has a prefix that is not /0 to /128");
  EXPECT_EQ(canonical("10.0.0.0/33"), "error: has a prefix that is not /0 to /32");
  EXPECT_EQ(canonical("10.0.0.0/"), "error: has a prefix that is not /0 to /32");
  EXPECT_EQ(canonical("10.0.0.0/-1"), "error: has a prefix that is not /0 to /32");
  EXPECT_EQ(canonical("10.0.0.0/8/8"), "error: has a prefix that is not /0 to /32");
  EXPECT_EQ(canonical("[::]/129"), "error: has a prefix that is not /0 to /128");
  EXPECT_EQ(canonical("[::]/1000000"), "error: has a prefix that is not /0 to /128");
  EXPECT_EQ(canonical("10.0.0.1:0"), "error: has a port that is not 1 to 65535");
  EXPECT_EQ(canonical("10.0.0.1:65536"), "error: has a port that is not 1 to 65535");
  EXPECT_EQ(canonical("10.0.0.1:"), "error: has a port that is not 1 to 65535");
  EXPECT_EQ(canonical("10.0.0.1:http"), "error: has a port that is not 1 to 65535");
  EXPECT_EQ(canonical("10.0.0.1:+80"), "error: has a port that is not 1 to 65535");
  EXPECT_EQ(canonical("*"), "error: needs a port after * (write *:6379)");
  EXPECT_EQ(canonical("*:"), "error: has a port that is not 1 to 65535");
  EXPECT_EQ(canonical("*.*"), "error: needs a port after * (write *:6379)");
}

TEST(PeerFilterMatch, AddressPrefixAndPort) {
  EXPECT_TRUE(matches("127.0.0.2:5432", "127.0.0.2", 5432));
  EXPECT_FALSE(matches("127.0.0.2:5432", "127.0.0.1", 5432));
  EXPECT_FALSE(matches("127.0.0.2:5432", "127.0.0.2", 5433));
  EXPECT_TRUE(matches("127.0.0.2", "127.0.0.2", 1));
  EXPECT_TRUE(matches("10.0.0.0/8", "10.255.1.2", 80));
  EXPECT_FALSE(matches("10.0.0.0/8", "11.0.0.0", 80));
  EXPECT_TRUE(matches("10.128.0.0/9", "10.200.0.1", 80));
  EXPECT_FALSE(matches("10.128.0.0/9", "10.127.255.255", 80));
  EXPECT_TRUE(matches("[2001:db8::]/32:443", "2001:db8:ffff::1", 443));
  EXPECT_FALSE(matches("[2001:db8::]/32:443", "2001:db8:ffff::1", 444));
  EXPECT_FALSE(matches("[2001:db8::]/32:443", "2001:db9::1", 443));
  EXPECT_TRUE(matches("[::1]:6379", "::1", 6379));
  EXPECT_FALSE(matches("[::1]:6379", "::2", 6379));
}

TEST(PeerFilterMatch, EdgePrefixes) {
  EXPECT_TRUE(matches("0.0.0.0/0", "203.0.113.9", 1));
  EXPECT_TRUE(matches("192.0.2.7/32", "192.0.2.7", 1));
  EXPECT_FALSE(matches("192.0.2.7/32", "192.0.2.6", 1));
  EXPECT_TRUE(matches("[::]/0", "2001:db8::1", 1));
  EXPECT_TRUE(matches("[::1]/128", "::1", 1));
  EXPECT_FALSE(matches("[::1]/128", "::3", 1));
  EXPECT_TRUE(matches("[2001:db8::]/33", "2001:db8:7fff::", 1));
  EXPECT_FALSE(matches("[2001:db8::]/33", "2001:db8:8000::", 1));
}

TEST(PeerFilterMatch, FamiliesDoNotMix) {
  EXPECT_FALSE(matches("0.0.0.0/0", "::1", 1));
  EXPECT_FALSE(matches("[::]/0", "127.0.0.1", 1));
  // ::/0 is "every IPv6 peer"; a v4-mapped peer is an IPv4 one.
  EXPECT_FALSE(matches("[::]/0", "::ffff:127.0.0.1", 1));
}

TEST(PeerFilterMatch, Ipv4MappedPeersMatchIpv4Patterns) {
  EXPECT_TRUE(matches("127.0.0.0/8", "::ffff:127.0.0.2", 80));
  EXPECT_TRUE(matches("127.0.0.2:5432", "::ffff:127.0.0.2", 5432));
  EXPECT_FALSE(matches("127.0.0.2:5432", "::ffff:127.0.0.1", 5432));
  EXPECT_TRUE(matches("[::ffff:127.0.0.2]", "127.0.0.2", 80));
}

TEST(PeerFilterMatch, AnyAddressOnAPortInEitherFamily) {
  EXPECT_TRUE(matches("*:6379", "192.0.2.1", 6379));
  EXPECT_TRUE(matches("*:6379", "2001:db8::1", 6379));
  EXPECT_TRUE(matches("*:6379", "::ffff:192.0.2.1", 6379));
  EXPECT_FALSE(matches("*:6379", "192.0.2.1", 6380));
}

TEST(PeerFilterMatch, FirstMatchingPatternWins) {
  PeerFilter filter = filter_of({"10.0.0.0/8", "*:443", "[::1]"});
  Peer local = peer("::1", 443);
  EXPECT_EQ(filter.match(local.get(), local.length), 1);
  Peer ten = peer("10.1.1.1", 443);
  EXPECT_EQ(filter.match(ten.get(), ten.length), 0);
  Peer other = peer("192.0.2.1", 80);
  EXPECT_EQ(filter.match(other.get(), other.length), -1);
}

TEST(PeerFilterMatch, NonIpAndShortAddressesMatchNothing) {
  PeerFilter filter = filter_of({"0.0.0.0/0", "[::]/0", "*:1"});
  EXPECT_EQ(filter.match(nullptr, 0), -1);
  sockaddr_un local{};
  local.sun_family = AF_UNIX;
  EXPECT_EQ(filter.match(reinterpret_cast<sockaddr*>(&local), sizeof local), -1);
  Peer v4 = peer("192.0.2.1", 1);
  EXPECT_EQ(filter.match(v4.get(), sizeof(sockaddr_in) - 1), -1);
  Peer v6 = peer("::1", 1);
  EXPECT_EQ(filter.match(v6.get(), sizeof(sockaddr_in6) - 1), -1);
}

}  // namespace
}  // namespace kashim
