// Peer patterns (KASHIM_PEERS): which remote endpoints get tuned.
//
// Pure: text in, patterns out; a socket address in, a verdict out. The pattern list lives
// inside the frozen Config, so it is fixed-size and holds no pointers.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string_view>

#include "text.hpp"

namespace kashim {

struct PeerPattern {
  enum class Family : std::uint8_t { kAny, kIPv4, kIPv6 };
  Family family = Family::kAny;   // kAny: "*:PORT", any address of either family
  std::uint8_t prefix = 0;        // leading bits of `address` that must match
  std::uint16_t port = 0;         // 0: any port
  std::uint8_t address[16] = {};  // network byte order; IPv4 uses the first four bytes
};

inline constexpr int kMaxPeerPatterns = 32;

struct PeerFilter {
  int count = 0;  // 0: no filter, every peer is tuned
  PeerPattern patterns[kMaxPeerPatterns];

  bool empty() const { return count == 0; }
  // The index of the first pattern that `peer` matches, or -1. An IPv4-mapped IPv6 address
  // (::ffff:a.b.c.d, what dual-stack sockets see) is an IPv4 peer.
  int match(const sockaddr* peer, socklen_t length) const;
};

// One pattern: 10.0.0.0/8, 192.0.2.7:5432, fd00::/8, [2001:db8::]/32:443, [::1]:6379,
// *:6379. An IPv6 address with a port needs brackets; without a port they are optional.
// Returns an empty view on success, else what is wrong with it.
std::string_view parse_peer_pattern(std::string_view text, PeerPattern* pattern);

// The forms parse_peer_pattern accepts, for error messages.
inline constexpr std::string_view kPeerPatternForms =
    "accepted: comma-separated ADDRESS[/PREFIX][:PORT] or *:PORT, IPv6 in brackets when a "
    "port follows, e.g. 10.0.0.0/8, 192.0.2.7:5432, fd00::/8, [2001:db8::]/32:443, "
    "[::1]:6379, *:6379";

// The pattern as canonical text, as --check and the logs show it.
using PatternText = FixedText<64>;
void describe_peer_pattern(const PeerPattern& pattern, PatternText* text);

}  // namespace kashim
