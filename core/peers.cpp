#include "peers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace kashim {
namespace {

using Family = PeerPattern::Family;

int address_bits(Family family) {
  return family == Family::kIPv4 ? 32 : 128;
}

// 1 to 5 digits, nothing else, at most `max`.
bool parse_small_number(std::string_view text, int max, int* number) {
  if (text.empty() || text.size() > 5) return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  *number = value;
  return true;
}

// inet_pton wants a terminated string; no address text is longer than this.
bool parse_address(std::string_view text, Family family, std::uint8_t* bytes) {
  char terminated[INET6_ADDRSTRLEN] = {};
  if (text.empty() || text.size() >= sizeof terminated) return false;
  std::memcpy(terminated, text.data(), text.size());
  return inet_pton(family == Family::kIPv4 ? AF_INET : AF_INET6, terminated, bytes) == 1;
}

// Host bits below the prefix are cleared, so 10.1.2.3/8 means 10.0.0.0/8 (as iptables
// reads it) and matching needs no mask of its own.
void clear_host_bits(PeerPattern* pattern) {
  for (int bit = pattern->prefix; bit < 128; ++bit) {
    pattern->address[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
}

// ::ffff:a.b.c.d/96+n is the IPv4 block a.b.c.d/n: peers are normalised the same way.
void unmap_ipv4(PeerPattern* pattern) {
  static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (pattern->family != Family::kIPv6 || pattern->prefix < 96 ||
      std::memcmp(pattern->address, kMappedPrefix, sizeof kMappedPrefix) != 0) {
    return;
  }
  pattern->family = Family::kIPv4;
  pattern->prefix = static_cast<std::uint8_t>(pattern->prefix - 96);
  std::memmove(pattern->address, pattern->address + 12, 4);
  std::memset(pattern->address + 4, 0, 12);
}

bool prefix_matches(const std::uint8_t* want, const std::uint8_t* have, int prefix) {
  int whole = prefix / 8;
  if (std::memcmp(want, have, static_cast<std::size_t>(whole)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (want[whole] & mask) == (have[whole] & mask);
}

}  // namespace

std::string_view parse_peer_pattern(std::string_view text, PeerPattern* pattern) {
  *pattern = PeerPattern();
  std::string_view address, prefix, port;
  bool has_prefix = false, has_port = false;
  if (text.empty()) return "is empty";
  if (text.front() == '*') {
    if (text.size() < 2 || text[1] != ':') return "needs a port after * (write *:6379)";
    port = tail(text, 2);
    has_port = true;
  } else {
    std::string_view rest;
    if (text.front() == '[') {
      std::size_t close = text.find(']');
      if (close == std::string_view::npos) return "opens [ without closing it";
      pattern->family = Family::kIPv6;
      address = head(tail(text, 1), close - 1);
      rest = tail(text, close + 1);
    } else if (std::count(text.begin(), text.end(), ':') >= 2) {
      // A bare IPv6 address or prefix has no port: ::1:80 is the address ::1:80, as nginx,
      // iptables and ip(8) read it. A port needs the brackets.
      pattern->family = Family::kIPv6;
      std::size_t slash = text.find('/');
      address = head(text, slash);
      rest = tail(text, slash);
      if (rest.find(':') != std::string_view::npos) {
        return "has a port after an IPv6 prefix without brackets (write [2001:db8::]/32:443)";
      }
    } else {
      pattern->family = Family::kIPv4;
      std::size_t end = text.find_first_of("/:");
      address = head(text, end);
      rest = tail(text, end);
    }
    if (!rest.empty() && rest.front() == '/') {
      std::size_t colon = rest.find(':');
      prefix = head(tail(rest, 1), colon - 1);  // npos - 1 is still "all of it"
      has_prefix = true;
      rest = tail(rest, colon);
    }
    if (!rest.empty() && rest.front() == ':') {
      port = tail(rest, 1);
      has_port = true;
      rest = {};
    }
    if (!rest.empty()) return "has text after the address that is neither /PREFIX nor :PORT";
    if (!parse_address(address, pattern->family, pattern->address)) {
      return pattern->family == Family::kIPv4 ? "is not an IPv4 address" : "is not an IPv6 address";
    }
    int bits = address_bits(pattern->family);
    int prefix_length = bits;
    if (has_prefix && !parse_small_number(prefix, bits, &prefix_length)) {
      return pattern->family == Family::kIPv4 ? "has a prefix that is not /0 to /32"
                                              : "has a prefix that is not /0 to /128";
    }
    pattern->prefix = static_cast<std::uint8_t>(prefix_length);
    clear_host_bits(pattern);
    unmap_ipv4(pattern);
  }
  int port_number = 0;
  if (has_port && (!parse_small_number(port, 65535, &port_number) || port_number == 0)) {
    return "has a port that is not 1 to 65535";
  }
  pattern->port = static_cast<std::uint16_t>(port_number);
  return {};
}

int PeerFilter::match(const sockaddr* peer, socklen_t length) const {
  if (peer == nullptr) return -1;
  Family family;
  std::uint8_t address[16] = {};
  in_port_t port = 0;
  if (peer->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    sockaddr_in v4;
    std::memcpy(&v4, peer, sizeof v4);
    family = Family::kIPv4;
    std::memcpy(address, &v4.sin_addr, 4);
    port = v4.sin_port;
  } else if (peer->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    sockaddr_in6 v6;
    std::memcpy(&v6, peer, sizeof v6);
    port = v6.sin6_port;
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      family = Family::kIPv4;
      std::memcpy(address, v6.sin6_addr.s6_addr + 12, 4);
    } else {
      family = Family::kIPv6;
      std::memcpy(address, v6.sin6_addr.s6_addr, 16);
    }
  } else {
    return -1;
  }
  for (int i = 0; i < count; ++i) {
    const PeerPattern& pattern = patterns[i];
    if (pattern.port != 0 && pattern.port != ntohs(port)) continue;
    if (pattern.family == Family::kAny) return i;
    if (pattern.family == family && prefix_matches(pattern.address, address, pattern.prefix)) {
      return i;
    }
  }
  return -1;
}

void describe_peer_pattern(const PeerPattern& pattern, PatternText* text) {
  char address[INET6_ADDRSTRLEN] = "?";
  switch (pattern.family) {
    case Family::kAny:
      text->add("*");
      break;
    case Family::kIPv4:
      inet_ntop(AF_INET, pattern.address, address, sizeof address);
      text->add(address);
      if (pattern.prefix != 32) text->add("/").add(pattern.prefix);
      break;
    case Family::kIPv6:
      inet_ntop(AF_INET6, pattern.address, address, sizeof address);
      text->add("[").add(address).add("]");
      if (pattern.prefix != 128) text->add("/").add(pattern.prefix);
      break;
  }
  if (pattern.port != 0) text->add(":").add(pattern.port);
}

}  // namespace kashim
