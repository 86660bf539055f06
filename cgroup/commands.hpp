// The subcommands of kashim-cgroup. Each returns its exit status or throws Refusal.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace kashim::cgroup {

struct RunRequest {
  std::vector<std::string> command;
  bool drop_kashim_env = false;  // the wrapper's KASHIM_* variables are not COMMAND's
  // The caller's environment where the wrapper's own differs: NAME=VALUE for a variable the
  // caller had (each replaces the variable), NAME for one the caller did not have.
  std::vector<std::string> setenv;
  std::vector<std::string> unsetenv;
};

// Puts the caller's variables of `request` other than KASHIM_* back into this process's
// environment, before COMMAND is looked for: in its caller's PATH, as exec would without
// kashim. (KASHIM_* stay the wrapper's here: they are this run's configuration.)
void take_callers_variables(const RunRequest& request);

// Becomes `command` (exec) in a new child cgroup of the caller's, with the programs attached
// through links a keeper process holds; the keeper removes the cgroup when the command
// exits. Returns only when the command cannot run: 126/127 after one line. Refusal before.
int run(const Config& config, const RunRequest& request);

// Persistent attachment to an existing cgroup; attaching again updates the settings in place.
int attach(const Config& config, const std::string& cgroup);
// Removes the attachment: the cgroup's path, or the id `status` printed once it is gone.
int detach(const std::string& cgroup);
// Every persistent attachment, or one cgroup's: settings and counters.
int status(const std::string& cgroup);

}  // namespace kashim::cgroup
