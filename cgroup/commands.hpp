// The subcommands of kashim-cgroup. Each returns its exit status or throws Refusal.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace kashim::cgroup {

// Runs `command` in a new child cgroup of our own with the programs attached through links
// held by this process; the cgroup is removed when the command exits. Returns the command's
// exit status; a command killed by a signal makes this process die of the same signal.
int run(const Config& config, const std::vector<std::string>& command);

// Persistent attachment to an existing cgroup; attaching again updates the settings in place.
int attach(const Config& config, const std::string& cgroup);
// Removes the attachment: the cgroup's path, or the id `status` printed once it is gone.
int detach(const std::string& cgroup);
// Every persistent attachment, or one cgroup's: settings and counters.
int status(const std::string& cgroup);

}  // namespace kashim::cgroup
