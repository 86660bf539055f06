// What the tests of persistent attachments share: a cgroup of the test's own, kashim-cgroup
// run on it, connections made from inside it, and what the kernel says is attached to it.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cgroup_fixture.hpp"

namespace kashim::testing {

inline std::string pin_directory_of(const std::string& cgroup) {
  struct stat status;
  stat(cgroup.c_str(), &status);  // a cgroup's inode number is its id
  return "/sys/fs/bpf/kashim/" + std::to_string(status.st_ino);
}

inline int bpf(int command, bpf_attr* attributes) {
  return static_cast<int>(syscall(SYS_bpf, command, attributes, sizeof *attributes));
}

// How many programs of `type` are attached to `cgroup` itself, as the kernel says.
inline int programs_attached(const std::string& cgroup, bpf_attach_type type) {
  const int fd = open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bpf_attr query;
  std::memset(&query, 0, sizeof query);
  query.query.target_fd = static_cast<__u32>(fd);
  query.query.attach_type = type;
  const int result = bpf(BPF_PROG_QUERY, &query);
  close(fd);
  return result == 0 ? static_cast<int>(query.query.prog_cnt) : -1;
}

// "sock_ops N, setsockopt M"
inline std::string attached_programs(const std::string& cgroup) {
  return "sock_ops " + std::to_string(programs_attached(cgroup, BPF_CGROUP_SOCK_OPS)) +
         ", setsockopt " + std::to_string(programs_attached(cgroup, BPF_CGROUP_SETSOCKOPT));
}

class CgroupAttach : public ::testing::Test {
 protected:
  void SetUp() override {
    KASHIM_REQUIRE_CGROUP_ROUTE();
    cgroup_ = cgroup2_mount_point() + "/kashim-test." +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + "." +
              std::to_string(getpid());
    ASSERT_EQ(mkdir(cgroup_.c_str(), 0755), 0) << cgroup_;
  }
  void TearDown() override {
    if (cgroup_.empty()) return;
    run_command({kCgroupTool, "cgroup", "detach", cgroup_}, {});
    // A `kashim cgroup run` made inside is removed by its keeper once its command has
    // exited, after the test saw it exit: until then the test's cgroup is busy.
    for (int i = 0; i < 2000 && rmdir(cgroup_.c_str()) != 0 && errno == EBUSY; ++i) {
      usleep(10000);  // 20 s at most
    }
    EXPECT_NE(access(cgroup_.c_str(), F_OK), 0) << cgroup_ << " is left";
  }

  ProcessRun tool(const std::vector<std::string>& arguments, const Environment& environment = {}) {
    std::vector<std::string> argv = {kCgroupTool, "cgroup"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_command(argv, environment);
  }
  // argv, started in the test's cgroup.
  std::vector<std::string> inside(const std::vector<std::string>& argv) const {
    std::vector<std::string> wrapped = {"sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                                        cgroup_ + "/cgroup.procs"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }
  // A connection cgroup_probe makes from inside the cgroup: what it reads back.
  std::map<std::string, int> connection_inside() {
    Listener listener("127.0.0.1");
    Child child(inside({kCgroupProbe, "connect", "127.0.0.1", listener.port_text()}), {});
    const int accepted = listener.accept_one();
    auto values = values_in(child.out_line());
    if (accepted >= 0) close(accepted);
    EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
    return values;
  }

  std::string cgroup_;
};

}  // namespace kashim::testing
