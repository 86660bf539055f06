// The cgroup v2 hierarchy: where it is mounted, where this process sits, cgroup ids.
#pragma once

#include <cstdint>
#include <string>

namespace kashim::cgroup {

// The cgroup2 mount point, from /proc/self/mountinfo (/sys/fs/cgroup, or
// /sys/fs/cgroup/unified in a hybrid layout). Refusal when there is none.
std::string cgroup2_mount();

// This process's cgroup v2 directory (its "0::" line in /proc/self/cgroup, under `mount`).
std::string own_cgroup(const std::string& mount);

// A cgroup named by the user: a directory of the cgroup2 file system, or a path relative to
// its mount as systemd and /proc/PID/cgroup print it (system.slice/nginx.service). Returns
// the absolute path; Refusal when it is neither.
std::string resolve_cgroup(const std::string& mount, const std::string& name);

// The kernel's id of a cgroup (what BPF and /proc report), from its directory.
std::uint64_t cgroup_id(const std::string& path);

// The directory of a cgroup id, or "" when that cgroup no longer exists.
std::string cgroup_path_of(const std::string& mount, std::uint64_t id);

}  // namespace kashim::cgroup
