// pidfd_getfd(2), like a descriptor received over SCM_RIGHTS, gives a socket the receiving
// task's net_cls class id and net_prio index (the kernel's __receive_sock): duplicating the
// sockets of a process in other net_cls or net_prio cgroups (cgroup v1) than this one would
// change how tc, iptables' cgroup match and net_prio classify its traffic.
#pragma once

#include <string>

namespace kashim::inspect {

// "" when a duplicate of a socket of the process `proc_dir` (/proc/PID or /proc/PID/task/TID)
// describes keeps its classes: neither hierarchy exists, or the process is in the same
// net_cls and net_prio cgroups as this one, or in cgroups with the same class id and
// interface priorities (read where the hierarchy is mounted here). Otherwise the first
// difference: "net_cls cgroup /batch (kashim's: /)".
std::string net_cgroup_difference(const std::string& proc_dir);

}  // namespace kashim::inspect
