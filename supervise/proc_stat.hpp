// /proc/PID/stat, past the command name: "PID (comm) S PPID ...", where the comm may hold
// spaces and parentheses and only the last ')' ends it.
#pragma once

#include <sys/types.h>

#include <string>

namespace kashim::supervise {

// The fields from the state on ("S PPID ..."), or "" when the file cannot be read.
std::string stat_from_state(pid_t pid);

}  // namespace kashim::supervise
