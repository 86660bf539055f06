// kashim's Config, as the kernel program reads it: the one translation between the two.
//
// Pure. The kernel program (bpf/kashim.bpf.c) mirrors core's decisions on this struct;
// test/cgroup holds the two to the same cases through real connections.
#pragma once

#include <string>

#include "bpf/settings.h"
#include "config.hpp"
#include "peers.hpp"

namespace kashim::cgroup {

// The settings map's value for a parsed, valid Config. An inactive Config (disabled)
// gives settings that leave every socket alone.
kashim_settings to_bpf_settings(const Config& config);

// The peer pattern a map entry stands for (the inverse of the translation), for status.
PeerPattern to_peer_pattern(const kashim_peer& peer);

// One line: "force, both directions, idle 60s, intvl 10s, cnt 6, user timeout unset, peers
// any", or "inactive (disabled)". What `kashim cgroup status` shows.
std::string describe_bpf_settings(const kashim_settings& settings);

}  // namespace kashim::cgroup
