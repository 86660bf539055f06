// Sockets held in unusual ways: by a process whose main thread has exited, under two
// descriptor numbers, and a connection that lives in another network namespace than the
// process holding it.
#include <gtest/gtest.h>

#include "inspect_helpers.hpp"

namespace kashim::testing {
namespace {

TEST(InspectHolders, AProcessWhoseMainThreadExitedIsInspectedAndTunedThroughALiveThread) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ASSERT_GE(client, 0);
  ASSERT_EQ(target.ask("main-exits"), "ok");  // the main thread is a zombie now
  const std::string pid = std::to_string(target.pid());
  EXPECT_NE(read_file("/proc/" + pid + "/stat").find(") Z "), std::string::npos);

  ProcessRun status = kashim({"status", "--json", pid});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_EQ(socket_count(status.out), 2) << status.out;
  EXPECT_EQ(field(socket_object(status.out, target.pid(), client), "keepalive"), "false");
  EXPECT_EQ(field(socket_object(status.out, target.pid(), client), "direction"), "\"out\"");

  ProcessRun apply = kashim({"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_NE(apply.out.find(": 2 tuned, 0 already as configured"), std::string::npos) << apply.out;
  // The values as the program itself reads them, from its live thread.
  EXPECT_TRUE(target.ask("values " + std::to_string(client)).starts_with("keepalive 1 idle 60 "));
}

TEST(InspectHolders, BeforeLinux69AProcessWhoseMainThreadExitedIsReportedAndLeftAlone) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  ASSERT_GE(port_in(listening), 0);
  ASSERT_EQ(target.ask("main-exits"), "ok");
  const std::string pid = std::to_string(target.pid());
  // pidfd_open(PIDFD_THREAD) fails with EINVAL, as on a kernel before 6.9.
  const std::vector<std::string> old_kernel = {KASHIM_REFUSE_PIDFD_GETFD_PATH, "--no-pidfd-thread"};
  const std::string why = "pid " + pid +
                          " (inspect_target): keep-alive values unknown: its main thread has "
                          "exited, and its descriptors are reached only through a live thread's "
                          "pidfd (PIDFD_THREAD, Linux 6.9 or later)";

  ProcessRun status = kashim_as(old_kernel, {"status", pid});
  ASSERT_NE(status.exit_code, 77) << status.err;
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  ASSERT_EQ(lines_of(status.out).size(), 3u) << status.out;  // header, the listener, why
  EXPECT_NE(lines_of(status.out)[1].find("LISTEN"), std::string::npos) << status.out;
  EXPECT_EQ(lines_of(status.out)[2], why);

  ProcessRun apply = kashim_as(old_kernel, {"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(apply.exit_code, 3) << apply.out << apply.err;
  EXPECT_EQ(apply.err, "kashim apply: " + why + "\n");
  EXPECT_EQ(target.ask("values " + std::to_string(fd_in(listening))), untuned_values());
}

// A thread that unshared its descriptor table holds a socket the process's table does not:
// status and apply read only the process's table, and say so (exit 1), never "all done".
TEST(InspectHolders, ASocketInAThreadsOwnDescriptorTableIsReportedNotSilentlyLeftOut) {
  Child target = start_target();
  const std::string answer = target.ask("own-table tcp");
  ASSERT_TRUE(answer.starts_with("thread ")) << answer;
  const std::string thread = answer.substr(7, answer.find(' ', 7) - 7);
  const std::string pid = std::to_string(target.pid());
  const std::string line = "pid " + pid + " (inspect_target): thread " + thread +
                           " has a descriptor table of its own (unshare(CLONE_FILES)) holding 1 "
                           "TCP socket: not read (kashim reads the process's table only)\n";
  ProcessRun status = kashim({"status", pid});
  EXPECT_EQ(status.exit_code, 1) << status.err;
  EXPECT_NE(status.out.find(line), std::string::npos) << status.out;
  ProcessRun json = kashim({"status", "--json", pid});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_NE(json.out.find("\"complete\":false"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"unread_tables\":[{\"thread\":" + thread + ",\"sockets\":1}]"),
            std::string::npos)
      << json.out;
  ProcessRun apply = kashim({"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(apply.exit_code, 1) << apply.err;
  EXPECT_NE(apply.out.find(line), std::string::npos) << apply.out;

  // A socket kashim does not handle (UDP) in such a table is nothing to report.
  Child other = start_target();
  ASSERT_TRUE(other.ask("own-table udp").starts_with("thread ")) << "the premise";
  ProcessRun udp = kashim({"status", std::to_string(other.pid())});
  EXPECT_EQ(udp.exit_code, 0) << udp.out;
  EXPECT_EQ(udp.out.find("descriptor table of its own"), std::string::npos) << udp.out;
}

TEST(InspectHolders, OneSocketUnderTwoDescriptorsIsTunedAndCountedOnce) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  const int copy = fd_in(target.ask("dup " + std::to_string(client)));
  ASSERT_GE(copy, 0);
  const std::string pid = std::to_string(target.pid());

  ProcessRun apply = kashim({"apply", "--pid", pid, "--idle", "60"});
  EXPECT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_NE(apply.out.find("fd " + std::to_string(copy) + " ESTAB out 127.0.0.1:"),
            std::string::npos)
      << apply.out;
  EXPECT_NE(apply.out.find(": the same socket as fd " + std::to_string(client) + "\n"),
            std::string::npos)
      << apply.out;
  EXPECT_EQ(lines_of(apply.out).back(),
            "pid " + pid +
                " (inspect_target): 2 tuned, 0 already as configured, 0 left alone, 0 not tuned "
                "(counted by socket: 3 descriptors, 2 sockets)");
  EXPECT_TRUE(target.ask("values " + std::to_string(copy)).starts_with("keepalive 1 idle 60 "));

  ProcessRun again = kashim({"apply", "--pid", pid, "--idle", "60"});
  EXPECT_NE(again.out.find(": 0 tuned, 2 already as configured, 0 left alone, 0 not tuned ("),
            std::string::npos)
      << again.out;
}

// A process in this network namespace holding a connection made in a namespace of its own
// (what a socket passed over SCM_RIGHTS from a container looks like): it unshares, connects
// there, and comes back.
const char* const kForeignConnection = R"(
import ctypes, os, socket, subprocess, sys
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
home = os.open('/proc/self/ns/net', os.O_RDONLY)
if libc.unshare(CLONE_NEWNET) != 0:
    sys.exit('unshare: ' + os.strerror(ctypes.get_errno()))
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
listener = socket.create_server(('127.0.0.1', 0))
client = socket.create_connection(listener.getsockname())
accepted, _ = listener.accept()
client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
if libc.setns(home, CLONE_NEWNET) != 0:
    sys.exit('setns: ' + os.strerror(ctypes.get_errno()))
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: its user may inspect it again
print(client.fileno(), flush=True)
sys.stdin.readline()
)";

TEST(InspectHolders, AConnectionOfAnotherNamespaceShowsItsTimerOrSaysWhyNot) {
  KASHIM_REQUIRE(running_as_root(), "root (to make a network namespace)");
  Child holder({"python3", "-c", kForeignConnection});
  const std::string fd = holder.read_line();
  ASSERT_FALSE(fd.empty());
  const std::string pid = std::to_string(holder.pid());

  // Root finds the connection's namespace (SIOCGSKNS) and asks sock_diag there.
  ProcessRun status = kashim({"status", "--json", pid});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  const std::string object = socket_object(status.out, holder.pid(), std::stoi(fd));
  EXPECT_EQ(field(object, "state"), "\"ESTABLISHED\"");
  EXPECT_EQ(field(object, "timer"), "\"keepalive\"") << object;
  EXPECT_EQ(field(object, "timer_note"), "null");

  // Its user may not (CAP_NET_ADMIN there): TIMER "?", and one line under the table says why.
  const std::string yama = read_file("/proc/sys/kernel/yama/ptrace_scope");
  if (!yama.empty() && yama[0] != '0') {
    GTEST_SKIP() << "Yama's ptrace_scope " << yama[0] << " refuses it to a non-descendant";
  }
  ProcessRun as_user =
      kashim_as({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, {"status", pid});
  EXPECT_EQ(as_user.exit_code, 0) << as_user.out << as_user.err;
  const std::vector<std::string> lines = lines_of(as_user.out);
  // The header, the listener, both ends of the connection, and the line.
  ASSERT_EQ(lines.size(), 5u) << as_user.out;
  for (std::size_t row = 1; row <= 3; ++row) {
    EXPECT_NE(lines[row].find(" ?     "), std::string::npos) << lines[row];
  }
  EXPECT_NE(lines[4].find(", " + fd), std::string::npos) << lines[4];
  EXPECT_TRUE(lines[4].starts_with("pid " + pid + " (python3): fd ")) << lines[4];
  EXPECT_TRUE(
      lines[4].ends_with(": TIMER unknown: sock_diag does not list it in the process's "
                         "network namespace, and its own cannot be found (SIOCGSKNS: "
                         "Operation not permitted)"))
      << lines[4];
}

}  // namespace
}  // namespace kashim::testing
