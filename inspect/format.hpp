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
// A JSON string literal, quotes included; bytes that are not UTF-8 become U+FFFD.
std::string json_string(const std::string& text);
// Text a process chose (its name), safe to print to a terminal: every byte that is not
// printable ASCII becomes '?', so that no escape sequence reaches the operator's terminal.
std::string printable(const std::string& text);

}  // namespace kashim::inspect
