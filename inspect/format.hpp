// Words and numbers as `kashim status` and `kashim apply` print them.
#pragma once

#include <string>

#include "inspection.hpp"

namespace kashim::inspect {

// "127.0.0.1:5000", "[::1]:5000", "[::ffff:10.0.0.1]:443" (as core's log lines write them),
// "*" for no address.
std::string address_text(const sockaddr_storage& address);
std::string peer_text(const DiagSocket& socket);
// Seconds, in hours or minutes when long and whole: "2h", "15m", "75s", "300s".
std::string seconds_text(int seconds);
// A time left on a timer, to two units at most: "1h59m", "4m10s", "9.8s", "850ms".
std::string remaining_text(unsigned milliseconds);
// ss's short state names: "ESTAB", "LISTEN", "SYN-SENT", ...
const char* short_state_name(int state);
// A JSON string literal, quotes included.
std::string json_string(const std::string& text);

}  // namespace kashim::inspect
