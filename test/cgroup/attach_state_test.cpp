// Persistent attachments against others: attaches of one cgroup at the same time, and links
// detached behind kashim's back.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "attach_fixture.hpp"

namespace kashim::testing {
namespace {

// What another tool does (bpftool link detach): the pinned link stays, attached to nothing.
bool detach_pinned_link(const std::string& path) {
  bpf_attr get;
  std::memset(&get, 0, sizeof get);
  get.pathname = reinterpret_cast<std::uintptr_t>(path.c_str());
  const int fd = bpf(BPF_OBJ_GET, &get);
  if (fd < 0) return false;
  bpf_attr detach;
  std::memset(&detach, 0, sizeof detach);
  detach.link_detach.link_fd = static_cast<__u32>(fd);
  const bool detached = bpf(BPF_LINK_DETACH, &detach) == 0;
  close(fd);
  return detached;
}

// attach and detach take turns (a lock): of attaches started together, one attaches and the
// others change its settings; none reports an attachment that another one undid.
TEST_F(CgroupAttach, ConcurrentAttachesAttachOnce) {
  constexpr int kRounds = 3, kTogether = 4;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::unique_ptr<Child>> attaches;
    for (int i = 0; i < kTogether; ++i) {
      attaches.push_back(std::make_unique<Child>(
          std::vector<std::string>{kCgroupTool, "cgroup", "attach", cgroup_},
          Environment{{"KASHIM_IDLE", std::to_string(30 + i)}}));
    }
    int attached = 0, updated = 0;
    for (auto& attach : attaches) {
      const std::string line = attach->out_line();
      attached += line.find(": attached to " + cgroup_) != std::string::npos;
      updated += line.find(": settings of " + cgroup_ + " updated") != std::string::npos;
      EXPECT_EQ(attach->wait(), 0) << attach->rest_of_err();
    }
    EXPECT_EQ(attached, 1) << "round " << round;
    EXPECT_EQ(updated, kTogether - 1) << "round " << round;
    EXPECT_EQ(attached_programs(cgroup_), "sock_ops 1, setsockopt 1") << "round " << round;
    const ProcessRun status = tool({"status", cgroup_});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    const std::size_t at = status.out.find("idle ");
    ASSERT_NE(at, std::string::npos) << status.out;
    const int idle = std::atoi(status.out.c_str() + at + 5);
    EXPECT_TRUE(idle >= 30 && idle < 30 + kTogether) << status.out;
    EXPECT_EQ(connection_inside()["idle"], idle) << "the settings of one of the attaches";
    EXPECT_EQ(tool({"detach", cgroup_}).exit_code, 0);
    EXPECT_EQ(attached_programs(cgroup_), "sock_ops 0, setsockopt 0");
  }
}

// An attach and a detach at once: whichever comes second wins, and what stays is one whole
// state, never pins without links or links without pins.
TEST_F(CgroupAttach, AnAttachAndADetachAtOnceLeaveOneWholeState) {
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(tool({"attach", cgroup_}, kTuned).exit_code, 0);
    Child attach({kCgroupTool, "cgroup", "attach", cgroup_}, {{"KASHIM_IDLE", "45"}});
    Child detach({kCgroupTool, "cgroup", "detach", cgroup_}, {});
    EXPECT_EQ(attach.wait(), 0) << attach.rest_of_err();
    EXPECT_EQ(detach.wait(), 0) << detach.rest_of_err();
    const std::string pins = pin_directory_of(cgroup_);
    if (exists(pins)) {  // the detach came first
      for (const char* name : {"sockops_link", "setsockopt_link", "settings", "counters"}) {
        EXPECT_TRUE(exists(pins + "/" + name)) << name;
      }
      EXPECT_EQ(attached_programs(cgroup_), "sock_ops 1, setsockopt 1");
      EXPECT_EQ(connection_inside()["idle"], 45);
      EXPECT_EQ(tool({"detach", cgroup_}).exit_code, 0);
    } else {
      EXPECT_EQ(attached_programs(cgroup_), "sock_ops 0, setsockopt 0");
    }
  }
}

// Links detached by another tool: status says so, and attach attaches afresh.
TEST_F(CgroupAttach, LinksDetachedBehindKashimsBackAreAttachedAgain) {
  ASSERT_EQ(tool({"attach", cgroup_}, kTuned).exit_code, 0);
  const std::string pins = pin_directory_of(cgroup_);
  ASSERT_TRUE(detach_pinned_link(pins + "/sockops_link"));
  ASSERT_TRUE(detach_pinned_link(pins + "/setsockopt_link"));
  ASSERT_EQ(attached_programs(cgroup_), "sock_ops 0, setsockopt 0");

  const ProcessRun status = tool({"status", cgroup_});
  EXPECT_EQ(status.exit_code, 1) << status.out;
  EXPECT_NE(status.out.find(cgroup_ + " (cgroup "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("DETACHED"), std::string::npos) << status.out;
  EXPECT_EQ(tool({"status"}).exit_code, 1);

  const ProcessRun again = tool({"attach", cgroup_}, {{"KASHIM_IDLE", "45"}});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("attached to " + cgroup_), std::string::npos) << again.out;
  EXPECT_EQ(attached_programs(cgroup_), "sock_ops 1, setsockopt 1");
  EXPECT_EQ(connection_inside()["idle"], 45) << "the new attachment's settings";
  const ProcessRun after = tool({"status", cgroup_});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out.find("DETACHED"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("connections tuned: 1 out"), std::string::npos) << after.out;
}

// An attach killed midway (strace kills it at its Nth mkdir, libbpf's before each pin): the
// maps are pinned before the links, so what is left attached has its settings pinned; status
// never says "nothing is tuned" while a link is attached, and detach removes it all.
TEST_F(CgroupAttach, AnAttachKilledMidwayLeavesNoLinkThatStatusDoesNotShow) {
  KASHIM_REQUIRE(access("/usr/bin/strace", X_OK) == 0, "strace");
  for (int when = 1; when <= 8; ++when) {
    const std::string at = "mkdir " + std::to_string(when);
    const ProcessRun killed =
        run_command({"strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=mkdir", "-e",
                     "inject=mkdir:signal=KILL:when=" + std::to_string(when), kCgroupTool, "cgroup",
                     "attach", cgroup_},
                    kTuned);
    const std::string programs = attached_programs(cgroup_);
    const ProcessRun status = tool({"status", cgroup_});
    if (programs != "sock_ops 0, setsockopt 0") {
      EXPECT_NE(status.out.find("idle 31s"), std::string::npos)
          << at << ": attached (" << programs << "), its settings shown\n"
          << status.out << status.err;
      EXPECT_EQ(status.out.find("nothing is tuned"), std::string::npos)
          << at << ": " << programs << "\n"
          << status.out;
    }
    if (killed.exit_code == 0) {
      EXPECT_EQ(status.exit_code, 0) << at << status.err;
    }
    tool({"detach", cgroup_});
    EXPECT_EQ(attached_programs(cgroup_), "sock_ops 0, setsockopt 0") << at;
    EXPECT_NE(access(pin_directory_of(cgroup_).c_str(), F_OK), 0) << at;
  }
}

// Without the privileges to see the pins, `status CGROUP` says it cannot see them, never
// that an attached cgroup is not attached; `detach ID` the same, never that ID is no cgroup.
TEST_F(CgroupAttach, WithoutPrivilegesAnAttachedCgroupIsNeverSaidToBeNotAttached) {
  KASHIM_REQUIRE(access("/usr/bin/setpriv", X_OK) == 0, "setpriv (util-linux)");
  ASSERT_EQ(tool({"attach", cgroup_}, kTuned).exit_code, 0);
  const ProcessRun run = run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                      kCgroupTool, "cgroup", "status", cgroup_},
                                     {});
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_EQ(lines_of(run.err).size(), 1u) << run.err;
  EXPECT_EQ(run.err.find("not attached"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("Permission denied"), std::string::npos) << run.err;
  // Nor is the attachment's ID, which it may not see, taken for a cgroup's path.
  const std::string pins = pin_directory_of(cgroup_);
  const ProcessRun by_id =
      run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", kCgroupTool,
                   "cgroup", "detach", pins.substr(pins.rfind('/') + 1)},
                  {});
  EXPECT_EQ(by_id.exit_code, 1);
  EXPECT_NE(by_id.err.find("Permission denied"), std::string::npos) << by_id.err;
  EXPECT_TRUE(exists(pins));
}

// One attachment status cannot read (pins left incomplete by an attach killed midway, or
// made by another version of kashim) is one line on stderr and exit status 1: the others
// are still listed.
TEST_F(CgroupAttach, StatusListsEveryAttachmentThoughOneCannotBeRead) {
  ASSERT_EQ(tool({"attach", cgroup_}, kTuned).exit_code, 0);
  const std::string unreadable = "/sys/fs/bpf/kashim/0";  // listed first: no cgroup has id 0
  ASSERT_EQ(mkdir(unreadable.c_str(), 0700), 0);
  const ProcessRun status = tool({"status"});
  rmdir(unreadable.c_str());
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_NE(status.out.find(cgroup_ + " (cgroup "), std::string::npos) << status.out;
  ASSERT_EQ(lines_of(status.err).size(), 1u) << status.err;
  EXPECT_NE(status.err.find(unreadable), std::string::npos) << status.err;
}

}  // namespace
}  // namespace kashim::testing
