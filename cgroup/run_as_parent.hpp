// `kashim cgroup run` as COMMAND's parent, where a keeper could not outlive COMMAND.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "run_cgroup.hpp"

namespace kashim::cgroup {

// After a failed exec of `command`: one line (as env(1) puts it) and the exit status, 127
// when it was not found, else 126. For both ways of running it.
int exec_failure(const std::string& command, int error);

// Whether an orphaned keeper would be reparented to COMMAND itself: this process is PID 1
// of its PID namespace, or a child subreaper.
bool keeper_would_be_commands_child();

// Runs COMMAND as our child in `cgroup`, passing signals on (those that came before too) and
// reaping every child, then releases the cgroup. COMMAND starts with `callers_mask`. Returns
// COMMAND's exit status, or dies of its signal.
int run_as_parent(RunCgroup& cgroup, const std::vector<std::string>& command,
                  const std::vector<std::string>& environment,
                  const std::vector<int>& commands_descriptors, const sigset_t& callers_mask);

}  // namespace kashim::cgroup
