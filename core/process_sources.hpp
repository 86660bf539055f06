// Where every route reads its configuration from: this process's environment and the
// kernel's sysctl values, handed to parse_config() as Sources.
//
// The preload library reads it in the host program; the supervisor, `kashim status/apply`
// and `kashim cgroup` read it in their own process, which the wrapper gave the same KASHIM_*
// variables. One source, one parser, so that every route decides the same way.
#pragma once

#include "config.hpp"

namespace kashim {

// The process's environment (secure_getenv) and /proc/sys/net/ipv4.
Sources process_sources();

}  // namespace kashim
