// Persistent attachments: attach, status and detach on a cgroup the test makes, the
// settings changed in place, the counters, and nothing left pinned or attached afterwards.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "attach_fixture.hpp"

namespace kashim::testing {
namespace {

TEST_F(CgroupAttach, AttachStatusDetachLeaveNothingBehind) {
  const ProcessRun attached = tool({"attach", cgroup_}, kTuned);
  ASSERT_EQ(attached.exit_code, 0) << attached.err;
  EXPECT_NE(attached.out.find("attached to " + cgroup_), std::string::npos) << attached.out;
  const std::string pins = pin_directory_of(cgroup_);
  for (const char* name : {"sockops_link", "setsockopt_link", "settings", "counters"}) {
    EXPECT_TRUE(exists(pins + "/" + name)) << name;
  }
  EXPECT_EQ(describe(connection_inside()), describe(tuned_values()));

  const ProcessRun status = tool({"status", cgroup_});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("settings: force, both directions, idle 31s, intvl 7s, cnt 4, user "
                            "timeout 2500ms, peers any"),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("connections tuned: 1 out, 0 in"), std::string::npos) << status.out;
  EXPECT_NE(tool({"status"}).out.find(cgroup_ + " (cgroup "), std::string::npos);

  const ProcessRun detached = tool({"detach", cgroup_});
  EXPECT_EQ(detached.exit_code, 0) << detached.err;
  EXPECT_FALSE(exists(pins));
  EXPECT_EQ(attached_programs(cgroup_), "sock_ops 0, setsockopt 0");
  EXPECT_EQ(describe(connection_inside()), describe(untouched_values()));
  const ProcessRun after = tool({"status", cgroup_});
  EXPECT_EQ(after.exit_code, 1);
  EXPECT_EQ(after.err, "kashim cgroup: " + cgroup_ +
                           ": not attached (kashim cgroup attach CGROUP attaches)\n");
  EXPECT_EQ(tool({"detach", cgroup_}).exit_code, 1);
}

TEST_F(CgroupAttach, AttachingAgainChangesTheSettingsInPlace) {
  ASSERT_EQ(tool({"attach", cgroup_}, kTuned).exit_code, 0);
  const ProcessRun again = tool({"attach", cgroup_}, {{"KASHIM_IDLE", "45"},
                                                      {"KASHIM_INTVL", "7"},
                                                      {"KASHIM_CNT", "4"},
                                                      {"KASHIM_USER_TIMEOUT", "2500ms"}});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("settings of " + cgroup_ + " updated"), std::string::npos) << again.out;
  auto expected = tuned_values();
  expected["idle"] = 45;
  EXPECT_EQ(describe(connection_inside()), describe(expected));
  EXPECT_NE(tool({"status", cgroup_}).out.find("idle 45s"), std::string::npos);
}

TEST_F(CgroupAttach, CountersSayWhatTheProgramsDid) {
  const std::string go_client = test_program("go_client");
  KASHIM_REQUIRE_PROGRAM(go_client);
  ASSERT_EQ(tool({"attach", cgroup_}, with(kTuned, "KASHIM_DIRECTION", "out")).exit_code, 0);
  {  // Go sets SO_KEEPALIVE (on: nothing to rewrite), TCP_KEEPINTVL and TCP_KEEPIDLE.
    Listener listener("127.0.0.1");
    Child child(inside({go_client, "127.0.0.1", listener.port_text()}), {});
    const int accepted = listener.accept_one();
    EXPECT_EQ(describe(values_in(child.err_line())), describe(tuned_values()));
    close(accepted);
    EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  }
  {  // An accepted connection: not wanted with direction out.
    Child child(inside({kCgroupProbe, "listen", "127.0.0.1"}), {});
    const std::string announced = child.out_line();
    ASSERT_EQ(announced.rfind("port=", 0), 0u) << announced;
    const int fd = connect_to("127.0.0.1", std::stoi(announced.substr(5)));
    EXPECT_EQ(values_in(child.out_line())["keepalive"], 0);
    close(fd);
    EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  }
  {  // A connect() refused: decided, and counted, when it was attempted.
    const ProcessRun refused = run_command(
        inside({kCgroupProbe, "connect", "127.0.0.1", std::to_string(free_port("127.0.0.1"))}), {});
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
  }
  const ProcessRun status = tool({"status", cgroup_});
  EXPECT_NE(status.out.find("connections tuned: 2 out, 0 in; left alone: 1 not wanted, 0 with "
                            "the program's own keep-alive"),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("options rewritten: 2; connections with a failed setting: 0"),
            std::string::npos)
      << status.out;
}

// Run by python3 in or outside the cgroup: one step per line read from stdin.
constexpr const char kSteps[] = R"(
import socket, sys
def values(s):
    names = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE), (6, 4), (6, 5), (6, 6), (6, 18)]
    return "keepalive=%d idle=%d intvl=%d cnt=%d user_timeout=%d" % tuple(
        s.getsockopt(l, n) for l, n in names)
port = int(sys.argv[1])
early = socket.create_connection(("127.0.0.1", port))        # before the attach
own = socket.socket()
own.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)    # before the attach too
print("ready", flush=True)
sys.stdin.readline()
own.connect(("127.0.0.1", port))
before_moving = socket.socket()
if len(sys.argv) > 2:
    open(sys.argv[2], "w").write("0")                        # moves into the cgroup
before_moving.connect(("127.0.0.1", port))
late = socket.create_connection(("127.0.0.1", port))
for name, s in (("early", early), ("own", own), ("created_before_moving", before_moving),
                ("late", late)):
    print(name, values(s), flush=True)
)";

TEST_F(CgroupAttach, OnlyConnectionsEstablishedLaterBySocketsOfTheCgroupAreTuned) {
  Listener listener("127.0.0.1");
  Child child(inside({"python3", "-c", kSteps, listener.port_text()}), {});
  ASSERT_EQ(child.out_line(), "ready") << child.rest_of_err();
  ASSERT_EQ(tool({"attach", cgroup_}, with(kTuned, "KASHIM_MODE", "fallback")).exit_code, 0);
  child.write_in("go\n");
  EXPECT_EQ(describe(values_in(child.out_line())), describe(untouched_values()))
      << "a connection established before the attach is unchanged";
  auto own = untouched_values();
  own["keepalive"] = 1;
  EXPECT_EQ(describe(values_in(child.out_line())), describe(own))
      << "fallback: keep-alive switched on before kashim saw the socket";
  EXPECT_EQ(describe(values_in(child.out_line())), describe(tuned_values()));
  EXPECT_EQ(describe(values_in(child.out_line())), describe(tuned_values()));
  EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  EXPECT_NE(tool({"status", cgroup_}).out.find("1 with the program's own keep-alive"),
            std::string::npos);
}

TEST_F(CgroupAttach, SocketsBelongToTheCgroupOfTheProcessThatCreatedThem) {
  ASSERT_EQ(tool({"attach", cgroup_}, kTuned).exit_code, 0);
  Listener listener("127.0.0.1");
  Child child({"python3", "-c", kSteps, listener.port_text(), cgroup_ + "/cgroup.procs"}, {});
  ASSERT_EQ(child.out_line(), "ready") << child.rest_of_err();
  child.write_in("go\n");
  for (const char* name : {"early", "own", "created_before_moving"}) {
    const std::string line = child.out_line();
    EXPECT_EQ(line.rfind(name, 0), 0u) << line;
    EXPECT_EQ(values_in(line)["keepalive"], std::string(name) == "own" ? 1 : 0) << line;
    EXPECT_NE(values_in(line)["idle"], 31) << line;
  }
  EXPECT_EQ(describe(values_in(child.out_line())), describe(tuned_values()))
      << "created after the move";
  EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
}

TEST_F(CgroupAttach, DescendantCgroupsAreCoveredAndTheOutermostAttachmentWins) {
  ASSERT_EQ(tool({"attach", cgroup_}, {{"KASHIM_IDLE", "31"}}).exit_code, 0);
  const std::string child_cgroup = cgroup_ + "/child";
  ASSERT_EQ(mkdir(child_cgroup.c_str(), 0755), 0);
  Listener listener("127.0.0.1");
  auto connect_from = [&](const std::string& cgroup, const std::vector<std::string>& argv,
                          const Environment& environment) {
    std::vector<std::string> wrapped = {"sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                                        cgroup + "/cgroup.procs"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    Child child(wrapped, environment);
    const int accepted = listener.accept_one();
    auto values = values_in(child.out_line());
    if (accepted >= 0) close(accepted);
    EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
    return values;
  };
  const auto probe =
      std::vector<std::string>{kCgroupProbe, "connect", "127.0.0.1", listener.port_text()};
  auto in_child = connect_from(child_cgroup, probe, {});
  EXPECT_EQ(in_child["keepalive"], 1);
  EXPECT_EQ(in_child["idle"], 31);
  // A run inside: its programs run first, the outer attachment's last, so the outer values
  // win where both set one (idle) and the inner ones stand where only they do (cnt).
  auto nested =
      connect_from(cgroup_, cgroup_run(probe), {{"KASHIM_IDLE", "45"}, {"KASHIM_CNT", "2"}});
  EXPECT_EQ(nested["idle"], 31);
  EXPECT_EQ(nested["cnt"], 2);
  rmdir(child_cgroup.c_str());
}

TEST_F(CgroupAttach, AnAttachmentOutlivingItsCgroupIsDetachedByItsId) {
  ASSERT_EQ(tool({"attach", cgroup_}, kTuned).exit_code, 0);
  const std::string pins = pin_directory_of(cgroup_);
  const std::string id = pins.substr(pins.rfind('/') + 1);
  ASSERT_EQ(rmdir(cgroup_.c_str()), 0);
  const ProcessRun status = tool({"status"});
  EXPECT_NE(status.out.find("cgroup " + id + " (removed)\n"), std::string::npos) << status.out;
  const ProcessRun detached = tool({"detach", id});
  EXPECT_EQ(detached.exit_code, 0) << detached.err;
  EXPECT_FALSE(exists(pins));
  cgroup_.clear();
}

TEST_F(CgroupAttach, MountsBpffsWhenItIsMissing) {
  KASHIM_REQUIRE(exists("/usr/bin/unshare"), "unshare (util-linux)");
  // In a private mount namespace without bpffs: attach mounts it, detach empties it.
  const std::string script =
      "umount /sys/fs/bpf 2>/dev/null; grep -c ' /sys/fs/bpf ' /proc/self/mountinfo;"
      "\"$0\" cgroup attach \"$1\" >/dev/null || exit 1;"
      "grep ' /sys/fs/bpf ' /proc/self/mountinfo | grep -c ' - bpf ';"
      "\"$0\" cgroup detach \"$1\" >/dev/null && ls /sys/fs/bpf/kashim 2>&1 | grep -c 'No such'";
  const ProcessRun run =
      run_command({"unshare", "--mount", "sh", "-c", script, kCgroupTool, cgroup_}, kTuned);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "0\n1\n1\n") << "mounts before, bpffs after the attach, no kashim pins left";
}

TEST_F(CgroupAttach, WhatIsNotACgroupIsRefusedInOneLine) {
  for (const std::string& name : {std::string("/tmp"), cgroup_ + "/no-such-cgroup"}) {
    const ProcessRun run = tool({"attach", name}, kTuned);
    EXPECT_EQ(run.exit_code, 2) << name;
    EXPECT_EQ(lines_of(run.err).size(), 1u) << run.err;
    EXPECT_NE(run.err.find("is not a cgroup v2 directory"), std::string::npos) << run.err;
  }
  EXPECT_FALSE(exists(pin_directory_of(cgroup_)));
}

// The cgroup2 mount is the first one listed that is still in sight: a container that mounts
// its own over a leftover one (hidden under a tmpfs here) gets its own.
TEST(CgroupMount, AHiddenCgroup2MountIsPassedOver) {
  KASHIM_REQUIRE_CGROUP_ROUTE();
  const std::string own = "/tmp/kashim-test-cgroup2." + std::to_string(getpid());
  ASSERT_EQ(mkdir(own.c_str(), 0755), 0) << own;
  const std::string script =
      "mount -t tmpfs none \"$1\" && mount -t cgroup2 none \"$2\" && exec \"$3\" "
      "cgroup attach kashim-no-such-cgroup";
  ProcessRun run = run_command({"unshare", "--mount", "--propagation", "private", "sh", "-c",
                                script, "sh", cgroup2_mount_point(), own, kCgroupTool},
                               {});
  rmdir(own.c_str());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("a directory under " + own), std::string::npos) << run.err;
}

// A program scope cannot apply to a cgroup (many programs, which the kernel's programs
// cannot tell apart): attach says so rather than drop it silently, and tunes every process.
TEST_F(CgroupAttach, AProgramScopeIsSaidNotToApply) {
  const ProcessRun attach = tool({"attach", cgroup_}, with(kTuned, "KASHIM_PROGRAMS", "nginx"));
  EXPECT_EQ(attach.exit_code, 0) << attach.err;
  EXPECT_EQ(attach.err,
            "kashim cgroup: the program scope \"nginx\" does not apply to attach: "
            "every process in the cgroup gets these settings\n");
  EXPECT_EQ(connection_inside()["idle"], 31);
}

}  // namespace
}  // namespace kashim::testing
