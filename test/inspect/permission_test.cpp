// What `kashim status` and `kashim apply` do for a process the caller may not fully inspect:
// one clear line, what can still be shown, and exit status 3.
#include <gtest/gtest.h>

#include "inspect_helpers.hpp"

namespace kashim::testing {
namespace {

const std::vector<std::string> kAsNobody = {"setpriv", "--reuid=65534", "--regid=65534",
                                            "--clear-groups"};

TEST(InspectPermission, ACallerThatMayNotListTheDescriptorsGetsOneLineAndStatus3) {
  KASHIM_REQUIRE(running_as_root(), "root (to run kashim as nobody against a root process)");
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const std::string pid = std::to_string(target.pid());

  ProcessRun status = kashim_as(kAsNobody, {"status", pid});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_EQ(status.out, "");
  EXPECT_EQ(status.err, "kashim status: pid " + pid + " (inspect_target): its descriptors " +
                            "cannot be listed (/proc/" + pid +
                            "/fd: Permission denied): run as its user or as root\n");
  ProcessRun apply = kashim_as(kAsNobody, {"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(apply.exit_code, 3) << apply.out << apply.err;
  EXPECT_NE(apply.err.find("cannot be listed"), std::string::npos) << apply.err;
  EXPECT_EQ(target.ask("values " + std::to_string(fd_in(listening))), untuned_values());

  // --all leaves out what it may not see, and says how many.
  ProcessRun all = kashim_as(kAsNobody, {"status", "--all"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out.find(pid + "/inspect_"), std::string::npos) << all.out;
  EXPECT_NE(all.err.find(" left out: "), std::string::npos) << all.err;
}

// Root in a user namespace it made has no CAP_SYS_PTRACE over the processes outside it:
// "run as root" would be no advice there, and the line says why root may not.
TEST(InspectPermission, RootThatMayNotListTheDescriptorsIsToldWhyRootIsNotEnough) {
  KASHIM_REQUIRE(running_as_root(), "root (to make a user namespace mapped to root)");
  KASHIM_REQUIRE(run_command({"unshare", "--user", "--map-root-user", "true"}, {}).exit_code == 0,
                 "unshare --user (util-linux, user namespaces allowed)");
  Child target = start_target();
  const std::string pid = std::to_string(target.pid());
  const std::vector<std::string> in_own_namespace = {"unshare", "--user", "--map-root-user"};
  ProcessRun status = kashim_as(in_own_namespace, {"status", pid});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_EQ(status.err, "kashim status: pid " + pid + " (inspect_target): its descriptors " +
                            "cannot be listed (/proc/" + pid + "/fd: Permission denied): root " +
                            "may not either: it is in a user namespace this one does not own, " +
                            "or a security policy protects it\n");
  ProcessRun all = kashim_as(in_own_namespace, {"status", "--all"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(all.err.starts_with("kashim status: ")) << all.err;
  EXPECT_TRUE(
      all.err.ends_with(" left out: their descriptors cannot be listed (root may not "
                        "either: they are in user namespaces this one does not own, or a "
                        "security policy protects them)\n"))
      << all.err;
}

TEST(InspectPermission, AnyUserInspectsAndTunesItsOwnProcesses) {
  KASHIM_REQUIRE(running_as_root(), "root (to run both sides as nobody)");
  const std::string yama = read_file("/proc/sys/kernel/yama/ptrace_scope");
  if (!yama.empty() && yama[0] != '0') {
    GTEST_SKIP() << "Yama's ptrace_scope " << yama[0] << " refuses it to a non-descendant";
  }
  std::vector<std::string> argv = kAsNobody;
  argv.push_back(KASHIM_INSPECT_TARGET_PATH);
  Child target(argv);
  const std::string listening = target.ask("listen 127.0.0.1");
  const std::string pid = std::to_string(target.pid());
  ProcessRun apply = kashim_as(kAsNobody, {"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_TRUE(
      target.ask("values " + std::to_string(fd_in(listening))).starts_with("keepalive 1 idle 60 "));
}

TEST(InspectPermission, WithoutDuplicatesStatusShowsSockDiagsViewAndSaysWhyOnce) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ASSERT_EQ(target.ask("keepalive " + std::to_string(client)), "ok");
  const std::string pid = std::to_string(target.pid());
  const std::vector<std::string> refused = {KASHIM_REFUSE_PIDFD_GETFD_PATH};

  ProcessRun status = kashim_as(refused, {"status", pid});
  ASSERT_NE(status.exit_code, 77) << status.err;
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  const auto lines = lines_of(status.out);
  ASSERT_EQ(lines.size(), 4u) << status.out;  // header, two sockets, one line saying why
  // State, addresses and the keep-alive timer come from sock_diag; the values are unknown.
  EXPECT_NE(lines[1].find("LISTEN"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("ESTAB"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find(" ? "), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find(" ka "), std::string::npos) << lines[2];
  // What follows names what is needed (and Yama's setting, where Yama is on).
  EXPECT_TRUE(lines[3].starts_with(
      "pid " + pid + " (inspect_target): keep-alive values " +
      "unknown, its sockets cannot be duplicated (pidfd_getfd: " + "Operation not permitted): "))
      << lines[3];

  ProcessRun json = kashim_as(refused, {"status", "--json", pid});
  EXPECT_EQ(json.exit_code, 3);
  EXPECT_EQ(field(socket_object(json.out, target.pid(), client), "keepalive"), "null");
  EXPECT_EQ(field(socket_object(json.out, target.pid(), client), "timer"), "\"keepalive\"");

  ProcessRun apply = kashim_as(refused, {"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(apply.exit_code, 3) << apply.out << apply.err;
  EXPECT_NE(apply.err.find("cannot be duplicated (pidfd_getfd: Operation not permitted)"),
            std::string::npos)
      << apply.err;
  EXPECT_EQ(target.ask("values " + std::to_string(fd_in(listening))), untuned_values());
}

}  // namespace
}  // namespace kashim::testing
