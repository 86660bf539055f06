#include "translate.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <iterator>

#include "decide.hpp"

namespace kashim::cgroup {

// The kernel program assumes core's option order and bits, and the ABI's socket constants.
static_assert(std::size(kManagedTcpOptions) == KASHIM_TCP_OPTIONS);
static_assert(kManagedTcpOptions[0].optname == TCP_KEEPIDLE &&
              kManagedTcpOptions[1].optname == TCP_KEEPINTVL &&
              kManagedTcpOptions[2].optname == TCP_KEEPCNT &&
              kManagedTcpOptions[3].optname == TCP_USER_TIMEOUT);
static_assert(kKeepaliveBit == KASHIM_BIT_KEEPALIVE);
static_assert(managed_option_bit(0) == KASHIM_BIT_TCP(0) &&
              managed_option_bit(3) == KASHIM_BIT_TCP(3));
static_assert(kMaxPeerPatterns == KASHIM_MAX_PEERS);
static_assert(AF_INET == 2 && AF_INET6 == 10 && SOCK_STREAM == 1);

namespace {

// The first `prefix` bits set, in network byte order.
void prefix_mask(int prefix, std::uint8_t mask[16]) {
  std::memset(mask, 0, 16);
  for (int bit = 0; bit < prefix && bit < 128; ++bit) {
    mask[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
  }
}

kashim_peer to_bpf_peer(const PeerPattern& pattern) {
  kashim_peer peer{};
  peer.port = pattern.port;
  std::uint8_t mask[16] = {};
  std::uint8_t net[16] = {};
  switch (pattern.family) {
    case PeerPattern::Family::kAny:
      peer.family = KASHIM_PEER_ANY;
      return peer;
    case PeerPattern::Family::kIPv4:
      peer.family = KASHIM_PEER_IPV4;
      prefix_mask(pattern.prefix > 32 ? 32 : pattern.prefix, mask);
      break;
    case PeerPattern::Family::kIPv6:
      peer.family = KASHIM_PEER_IPV6;
      prefix_mask(pattern.prefix, mask);
      break;
  }
  for (int i = 0; i < 16; ++i) net[i] = pattern.address[i] & mask[i];
  std::memcpy(peer.net, net, sizeof peer.net);
  std::memcpy(peer.mask, mask, sizeof peer.mask);
  return peer;
}

}  // namespace

kashim_settings to_bpf_settings(const Config& config) {
  kashim_settings settings{};
  if (!config.active) return settings;
  settings.active = 1;
  settings.mode = config.mode == Mode::kFallback ? KASHIM_MODE_FALLBACK : KASHIM_MODE_FORCE;
  switch (config.direction) {
    case Direction::kBoth:
      settings.direction = KASHIM_DIRECTION_BOTH;
      break;
    case Direction::kOut:
      settings.direction = KASHIM_DIRECTION_OUT;
      break;
    case Direction::kIn:
      settings.direction = KASHIM_DIRECTION_IN;
      break;
  }
  for (std::size_t i = 0; i < std::size(kManagedTcpOptions); ++i) {
    const ManagedOption& option = config.*kManagedTcpOptions[i].option;
    if (!option.set) continue;
    settings.tcp_set |= managed_option_bit(i);
    settings.tcp_value[i] = option.value;
  }
  const int count = config.peers.count < kMaxPeerPatterns ? config.peers.count : kMaxPeerPatterns;
  settings.peer_count = static_cast<__u32>(count);
  for (int i = 0; i < count; ++i) settings.peers[i] = to_bpf_peer(config.peers.patterns[i]);
  return settings;
}

PeerPattern to_peer_pattern(const kashim_peer& peer) {
  PeerPattern pattern;
  pattern.port = peer.port;
  if (peer.family == KASHIM_PEER_ANY) return pattern;
  pattern.family =
      peer.family == KASHIM_PEER_IPV4 ? PeerPattern::Family::kIPv4 : PeerPattern::Family::kIPv6;
  std::uint8_t mask[16];
  std::memcpy(pattern.address, peer.net, sizeof pattern.address);
  std::memcpy(mask, peer.mask, sizeof mask);
  int prefix = 0;
  for (std::uint8_t byte : mask) prefix += __builtin_popcount(byte);
  pattern.prefix = static_cast<std::uint8_t>(prefix);
  return pattern;
}

}  // namespace kashim::cgroup
