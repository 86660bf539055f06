// What the tests of `kashim status` and `kashim apply` share: running the front door, the
// target program, and reading the JSON status of one socket.
#pragma once

#include <string>
#include <vector>

#include "child.hpp"
#include "harness.hpp"

namespace kashim::testing {

// `kashim ARGS...` through the wrapper, as an operator types it.
ProcessRun kashim(const std::vector<std::string>& args, const Environment& environment = {});
// The same with `prefix` in front (setpriv ..., or the seccomp helper).
ProcessRun kashim_as(const std::vector<std::string>& prefix, const std::vector<std::string>& args,
                     const Environment& environment = {});

// inspect_target (test/inspect/target.cpp), or its statically linked build.
Child start_target();
Child start_static_target();

// The JSON object `kashim status --json` printed for descriptor `fd` of process `pid`
// ("" if absent), and one field of such an object as raw JSON text ("" if absent).
std::string socket_object(const std::string& json, int pid, int fd);
std::string first_socket(const std::string& json);
std::string field(const std::string& object, const std::string& name);
// How many sockets the JSON lists, over every process.
int socket_count(const std::string& json);

// The settings most tests apply, as wrapper options, and what the target then reports.
extern const std::vector<std::string> kApplied;
extern const std::string kAppliedValues;  // "keepalive 1 idle 60 intvl 10 cnt 6 user_timeout 30000"
// What the target reports for a socket nobody tuned: keep-alive off, the kernel's defaults
// (net.ipv4.tcp_keepalive_*), no user timeout.
std::string untuned_values();

// Whether this run may do what only root may (run a process as another user).
bool running_as_root();

}  // namespace kashim::testing
