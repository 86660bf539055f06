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

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {  // comm is raw bytes: keep the output ASCII
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace kashim::inspect
