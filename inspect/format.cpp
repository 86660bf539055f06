#include "format.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstdio>

#include "log_line.hpp"

namespace kashim::inspect {

std::string address_text(const sockaddr_storage& address) {
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6) return "*";
  LogLine line;
  add_address(&line, reinterpret_cast<const sockaddr*>(&address),
              address.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  return std::string(line.view());
}

std::string peer_text(const DiagSocket& socket) {
  socklen_t length = 0;
  return peer_of(socket, &length) == nullptr ? "*" : address_text(socket.peer);
}

std::string seconds_text(int seconds) {
  // Short durations stay in seconds, as they are usually configured.
  if (seconds >= 3600 && seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds >= 600 && seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

std::string remaining_text(unsigned milliseconds) {
  const unsigned seconds = milliseconds / 1000;
  char text[32];
  if (seconds >= 3600) {
    std::snprintf(text, sizeof text, "%uh%um", seconds / 3600, seconds % 3600 / 60);
  } else if (seconds >= 60) {
    std::snprintf(text, sizeof text, "%um%us", seconds / 60, seconds % 60);
  } else if (seconds >= 1) {
    std::snprintf(text, sizeof text, "%u.%us", seconds, milliseconds % 1000 / 100);
  } else {
    std::snprintf(text, sizeof text, "%ums", milliseconds);
  }
  return text;
}

const char* short_state_name(int state) {
  switch (state) {
    case TCP_ESTABLISHED:
      return "ESTAB";
    case TCP_SYN_SENT:
      return "SYN-SENT";
    case TCP_SYN_RECV:
      return "SYN-RECV";
    case TCP_FIN_WAIT1:
      return "FIN-WAIT-1";
    case TCP_FIN_WAIT2:
      return "FIN-WAIT-2";
    case TCP_TIME_WAIT:
      return "TIME-WAIT";
    case TCP_CLOSE:
      return "UNCONN";
    case TCP_CLOSE_WAIT:
      return "CLOSE-WAIT";
    case TCP_LAST_ACK:
      return "LAST-ACK";
    case TCP_LISTEN:
      return "LISTEN";
    case TCP_CLOSING:
      return "CLOSING";
    default:
      return "UNKNOWN";
  }
}

namespace {

// The length of the well-formed UTF-8 sequence at `at`, or 0.
std::size_t utf8_length(const std::string& text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  const std::size_t length = lead >= 0xc2 && lead <= 0xdf   ? 2
                             : lead >= 0xe0 && lead <= 0xef ? 3
                             : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                            : 0;
  if (length == 0 || at + length > text.size()) return 0;
  for (std::size_t i = at + 1; i < at + length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (std::size_t at = 0; at < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[at]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else if (c >= 0x80) {
      // A program name is raw bytes: UTF-8 passes, anything else becomes U+FFFD.
      const std::size_t length = utf8_length(text, at);
      out += length == 0 ? "\\ufffd" : text.substr(at, length);
      at += length == 0 ? 1 : length;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++at;
  }
  return out + "\"";
}

std::string printable(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace kashim::inspect
