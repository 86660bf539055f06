// What the tests of `kashim cgroup run` look at from outside: a run's cgroup and its keeper.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "cgroup_fixture.hpp"

namespace kashim::testing {

// The tests of `kashim cgroup run`, in run_test.cpp and run_observed_test.cpp: root and the
// BPF programs needed.
class CgroupRun : public ::testing::Test {
 protected:
  void SetUp() override { KASHIM_REQUIRE_CGROUP_ROUTE(); }
};

// The cgroup a process is in (/proc/PID/cgroup's "0::" line), as a path under the mount.
std::string cgroup_of(const std::string& pid);

// The keeper of a run: the kashim-cgroup process other than `command` holding a pidfd of
// `command` (its /proc/PID/fdinfo says "Pid:\t<command>"), or 0.
pid_t keeper_of(pid_t command);

// The keeper of a run and the descriptor number of its pidfd of `command`, or {0, -1}.
std::pair<pid_t, int> keeper_and_pidfd_of(pid_t command);

// A cgroup of the test's own below its current one, for runs made from a PID namespace:
// their cleanup of abandoned runs cannot see the test's PIDs, and their cgroups are all
// named kashim-run.1, so no other test's (or test process's) may share their parent.
class TestCgroup {
 public:
  TestCgroup();
  ~TestCgroup();  // removes it once what ran there is gone (20 s at most)
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  const std::string& path() const { return path_; }
  // `sh -c 'echo $$ > PATH/cgroup.procs && exec "$@"'`: argv started inside it.
  std::vector<std::string> inside(const std::vector<std::string>& argv) const;

 private:
  std::string path_;
};

}  // namespace kashim::testing
