// The pieces of kashim's log lines, shared by every route so that a connection tuned by the
// preload library, the supervisor or `kashim apply` is described in the same words.
//
// Formatting only: no allocation, no locale, no stdio, safe inside a hook that a signal
// handler reached. Writing the line is log.hpp's job.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string_view>

#include "text.hpp"

namespace kashim {

using LogLine = FixedText<512>;

// "errno 13 (EACCES)"; the name only for the errors the shim can meet.
void add_errno(LogLine* line, int error);
std::string_view errno_name(int error);
// "192.0.2.7:5432", "[2001:db8::1]:443", "unknown peer" (null), "a non-IP peer".
void add_address(LogLine* line, const sockaddr* address, socklen_t length);
// The values the kernel holds for the socket now, read back rather than assumed (in
// fallback mode the program may have changed them): "keep-alive on, idle 60s, intvl 10s,
// cnt 6, user timeout 0ms".
void add_kernel_values(LogLine* line, int fd);

struct Config;
enum class Direction : std::uint8_t;

// A filter's decision about one connection, in the same words from every route, after
// "fd 5 connecting to 192.0.2.7:5432": ": not tuned (KASHIM_DIRECTION=out)", ": not tuned
// (no KASHIM_PEERS pattern matches; KASHIM_DIRECTION=both)", or ": tuned (KASHIM_PEERS
// 10.0.0.0/8), " before the values. A setting from the configuration file is named by its
// key there (peers, direction).
void add_filter_decision(LogLine* line, const Config& config, Direction side, const sockaddr* peer,
                         socklen_t peer_length, bool wanted);

}  // namespace kashim
