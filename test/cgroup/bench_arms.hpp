// The cgroups the connect+close benchmark moves its process into, one per arm: each holds
// other BPF programs, so that one run separates what each part of the route costs.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace kashim::testing {

// The cgroup2 mount and the process's own cgroup under it (/proc/self/cgroup's 0:: line).
std::string cgroup2_mount_of_self();
std::string own_cgroup_directory();

// Writes our pid into `cgroup`/cgroup.procs: the sockets we create from then on are its.
bool move_self_to(const std::string& cgroup);

// A `kashim-cgroup cgroup run` whose command (`self --hold`) only waits: kashim's programs
// stay attached to the run's cgroup, configured by the environment changes given (an empty
// value unsets the variable), until this object is destroyed. The run is the shipped one:
// its links, its cgroup, its settings map.
class KashimRun {
 public:
  KashimRun(const std::string& tool, const std::string& self,
            const std::vector<std::pair<std::string, std::string>>& environment);
  ~KashimRun();  // EOF to the command: it exits, the run detaches and removes its cgroup
  KashimRun(const KashimRun&) = delete;
  KashimRun& operator=(const KashimRun&) = delete;
  const std::string& cgroup() const { return cgroup_; }  // "" when the run did not start

 private:
  pid_t pid_ = -1;
  int to_command_ = -1;
  std::string cgroup_;
};

// What `self --hold` does inside the run: prints its cgroup's directory, waits for EOF.
int hold_cgroup();

// A cgroup of the benchmark's own (`parent`/cgroup_bench.<pid>) with a sock_ops program and
// a cgroup/setsockopt program attached through links, both returning at once: what the two
// hooks cost before kashim's programs do anything.
class EmptyPrograms {
 public:
  static constexpr unsigned kSockOps = 1, kSetsockopt = 2;
  EmptyPrograms(const std::string& parent, const std::string& name,
                unsigned hooks = kSockOps | kSetsockopt);
  ~EmptyPrograms();  // links closed (detached), cgroup removed
  EmptyPrograms(const EmptyPrograms&) = delete;
  EmptyPrograms& operator=(const EmptyPrograms&) = delete;
  const std::string& cgroup() const { return cgroup_; }
  const std::string& error() const { return error_; }  // "" when both are attached

 private:
  std::string cgroup_;
  std::string error_;
  std::vector<int> fds_;  // programs and links
};

// Every cgroup with programs the benchmark compares, attached together for one round and
// detached together: the programs of one cgroup cost the processes of every other one too
// (the kernel's cgroup BPF hooks are switched on for all sockets while any is attached), so
// the arm without a program is measured while nothing is attached anywhere.
struct Attachments {
  Attachments(const std::string& parent, const std::string& tool, const std::string& self);
  std::string error() const;  // "" when every one is attached
  EmptyPrograms sockops, setsockopt, both;
  KashimRun inactive, keepalive, configured;  // KASHIM_DISABLE=1; no TCP option; as given
};

}  // namespace kashim::testing
