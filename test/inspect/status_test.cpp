// `kashim status`: every TCP socket of a running process, with the values the kernel holds.
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "inspect_helpers.hpp"

namespace kashim::testing {
namespace {

// A listener, a connection the target opened to it, and the end it accepted.
struct ThreeSockets {
  int listener, client, accepted;
};

ThreeSockets open_three(Child& target, const std::string& host = "127.0.0.1") {
  const std::string listening = target.ask("listen " + host);
  const int port = port_in(listening);
  const int client = fd_in(target.ask("connect " + host + " " + std::to_string(port)));
  const int accepted = fd_in(target.ask("accept " + std::to_string(fd_in(listening))));
  return {fd_in(listening), client, accepted};
}

TEST(InspectStatus, ShowsEachSocketWithItsStateDirectionAndValues) {
  Child target = start_target();
  const ThreeSockets fds = open_three(target);
  ASSERT_GE(fds.accepted, 0);
  ASSERT_EQ(target.ask("keepalive " + std::to_string(fds.client)), "ok");

  ProcessRun run = kashim({"status", "--json", std::to_string(target.pid())});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string listener = socket_object(run.out, target.pid(), fds.listener);
  const std::string client = socket_object(run.out, target.pid(), fds.client);
  const std::string accepted = socket_object(run.out, target.pid(), fds.accepted);
  EXPECT_EQ(field(listener, "state"), "\"LISTEN\"");
  EXPECT_EQ(field(listener, "direction"), "\"listen\"");
  EXPECT_EQ(field(listener, "peer"), "null");
  EXPECT_EQ(field(client, "state"), "\"ESTABLISHED\"");
  EXPECT_EQ(field(client, "direction"), "\"out\"");
  EXPECT_EQ(field(accepted, "direction"), "\"in\"");
  EXPECT_EQ(field(accepted, "peer"), field(client, "local"));
  // The values are the kernel's: the program switched keep-alive on for its client only,
  // and the keep-alive timer runs on that one alone.
  EXPECT_EQ(field(client, "keepalive"), "true");
  EXPECT_EQ(field(client, "timer"), "\"keepalive\"");
  EXPECT_EQ(field(accepted, "keepalive"), "false");
  EXPECT_EQ(field(accepted, "timer"), "null");
  EXPECT_EQ("keepalive 0 idle " + field(accepted, "idle_s") + " intvl " +
                field(accepted, "intvl_s") + " cnt " + field(accepted, "cnt") + " user_timeout " +
                field(accepted, "user_timeout_ms"),
            untuned_values());
  EXPECT_EQ(socket_count(run.out), 3);
}

// A socket neither bound nor connected has no kernel timer, and sock_diag does not list it:
// its TIMER is "-" (none), not "?" (unknown) with no line saying why.
TEST(InspectStatus, AnUnconnectedSocketHasNoTimerRatherThanAnUnknownOne) {
  Child target = start_target();
  const int fd = fd_in(target.ask("socket"));
  ASSERT_GE(fd, 0);
  ProcessRun run = kashim({"status", "--json", std::to_string(target.pid())});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string unconnected = socket_object(run.out, target.pid(), fd);
  EXPECT_EQ(field(unconnected, "timer"), "null");
  EXPECT_EQ(field(unconnected, "probes"), "0") << unconnected;
  EXPECT_EQ(field(unconnected, "timer_note"), "null");
  ProcessRun table = kashim({"status", std::to_string(target.pid())});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.find(" ? "), std::string::npos) << table.out;
}

// A report that cannot be written (a full disk) is not a success: one line, exit status 2.
TEST(InspectStatus, OutputThatCannotBeWrittenIsAnError) {
  Child target = start_target();
  ASSERT_GE(fd_in(target.ask("socket")), 0);
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"status", std::to_string(target.pid())},
        {"status", "--json", std::to_string(target.pid())},
        {"apply", "--pid", std::to_string(target.pid()), "--idle", "60"}}) {
    std::vector<std::string> argv = {"sh", "-c", "exec \"$@\" >/dev/full", "sh",
                                     KASHIM_WRAPPER_PATH};
    argv.insert(argv.end(), command.begin(), command.end());
    const ProcessRun run = run_command(argv, {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}});
    EXPECT_EQ(run.exit_code, 2) << command[0] << " " << command[1] << ": " << run.err;
    EXPECT_EQ(run.err,
              "kashim " + command[0] + ": cannot write the output: No space left on device\n");
  }
}

// A connection accepted by a process that does not hold the listener itself (sshd's session
// processes, a pre-forked worker, systemd's Accept=yes): its listener is another process's,
// in the same network namespace, and it is still `in`, for status and for --direction.
TEST(InspectStatus, AConnectionAcceptedFromAnotherProcesssListenerIsIn) {
  Child worker({"python3", "-c",
                "import os, socket, sys\n"
                "listener = socket.create_server(('127.0.0.1', 0))\n"
                "client = socket.create_connection(listener.getsockname())\n"
                "accepted, _ = listener.accept()\n"
                "if os.fork() == 0:\n"
                "    listener.close(); client.close()\n"
                "    print(os.getpid(), accepted.fileno(), flush=True); sys.stdin.read()\n"
                "else:\n"
                "    accepted.close(); sys.stdin.read()\n"});
  std::istringstream answer(worker.read_line());
  int pid = 0, fd = -1;
  answer >> pid >> fd;
  ASSERT_GT(pid, 0);
  const ProcessRun run = kashim({"status", "--json", std::to_string(pid)});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(socket_count(run.out), 1) << run.out;
  EXPECT_EQ(field(socket_object(run.out, pid, fd), "direction"), "\"in\"") << run.out;
  const ProcessRun out_only = kashim(
      {"apply", "--pid", std::to_string(pid), "--direction", "out", "--idle", "50", "--dry-run"});
  EXPECT_NE(out_only.out.find("left alone (direction out only)"), std::string::npos)
      << out_only.out;
  kill(pid, SIGKILL);
}

TEST(InspectStatus, WithoutAPidShowsEveryProcessHoldingATcpSocket) {
  Child holder = start_target();
  const int listener = fd_in(holder.ask("listen 127.0.0.1"));
  Child idle = start_target();  // no socket at all
  ASSERT_EQ(idle.ask("values 0"), "keepalive -1 idle -1 intvl -1 cnt -1 user_timeout -1");
  for (const auto& args : {std::vector<std::string>{"status", "--json"},
                           std::vector<std::string>{"status", "--json", "--all"}}) {
    ProcessRun run = kashim(args);
    // 1 only if another process on the machine reused a descriptor while it was read.
    EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.exit_code << run.err;
    EXPECT_EQ(field(socket_object(run.out, holder.pid(), listener), "state"), "\"LISTEN\"");
    EXPECT_EQ(run.out.find("{\"pid\":" + std::to_string(idle.pid()) + ","), std::string::npos);
  }
  ProcessRun both = kashim({"status", "--all", std::to_string(holder.pid())});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_EQ(lines_of(both.err)[0], "kashim status: --all takes no PID");
}

TEST(InspectStatus, SaysWhatTheConfigurationWouldChange) {
  Child target = start_target();
  const ThreeSockets fds = open_three(target);
  ASSERT_EQ(target.ask("keepalive " + std::to_string(fds.client)), "ok");
  const std::string pid = std::to_string(target.pid());

  // Force mode: everything changes. Fallback mode: the program's own keep-alive stands.
  ProcessRun force = kashim({"status", "--json", "--idle", "60", pid});
  EXPECT_EQ(field(socket_object(force.out, target.pid(), fds.client), "kashim"), "\"change\"");
  ProcessRun fallback = kashim({"status", "--json", "--idle", "60", "--mode", "fallback", pid});
  EXPECT_EQ(field(socket_object(fallback.out, target.pid(), fds.client), "kashim"), "\"own\"");
  EXPECT_EQ(field(socket_object(fallback.out, target.pid(), fds.accepted), "kashim"), "\"change\"");
  // --direction out: the accepted connection is left alone, and the listener too.
  ProcessRun out = kashim({"status", "--json", "--idle", "60", "--direction", "out", pid});
  EXPECT_EQ(field(socket_object(out.out, target.pid(), fds.accepted), "kashim"), "\"skip\"");
  EXPECT_EQ(field(socket_object(out.out, target.pid(), fds.listener), "kashim"), "\"skip\"");
  EXPECT_EQ(field(socket_object(out.out, target.pid(), fds.client), "kashim"), "\"change\"");
}

TEST(InspectStatus, TheTableFitsOneHundredColumns) {
  Child target = start_target();
  open_three(target);
  KASHIM_REQUIRE_IPV6();
  open_three(target, "::1");
  ProcessRun run = kashim({"status", std::to_string(target.pid())});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 7u) << run.out;  // the header and six sockets
  EXPECT_TRUE(lines[0].starts_with("PID/COMM")) << lines[0];
  for (const std::string& line : lines) EXPECT_LE(line.size(), 100u) << line;
  EXPECT_NE(run.out.find("[::1]:"), std::string::npos) << run.out;
}

TEST(InspectStatus, ShowsIpv6AndIpv4MappedPeers) {
  KASHIM_REQUIRE_IPV6();
  Child target = start_target();
  // A dual-stack listener on [::]: an IPv4 client arrives as ::ffff:127.0.0.1.
  const std::string listening = target.ask("listen ::");
  const std::string port = std::to_string(port_in(listening));
  const int v4_client = fd_in(target.ask("connect 127.0.0.1 " + port));
  const int mapped = fd_in(target.ask("accept " + std::to_string(fd_in(listening))));
  const int v6_client = fd_in(target.ask("connect ::1 " + port));
  const int v6_accepted = fd_in(target.ask("accept " + std::to_string(fd_in(listening))));
  ASSERT_GE(v6_accepted, 0);

  ProcessRun run = kashim({"status", "--json", std::to_string(target.pid())});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string mapped_object = socket_object(run.out, target.pid(), mapped);
  EXPECT_EQ(field(mapped_object, "family"), "\"ipv6\"");
  EXPECT_TRUE(field(mapped_object, "peer").starts_with("\"[::ffff:127.0.0.1]:")) << mapped_object;
  EXPECT_EQ(field(mapped_object, "direction"), "\"in\"");
  EXPECT_EQ(field(socket_object(run.out, target.pid(), v4_client), "direction"), "\"out\"");
  EXPECT_EQ(field(socket_object(run.out, target.pid(), v6_client), "family"), "\"ipv6\"");
  EXPECT_TRUE(
      field(socket_object(run.out, target.pid(), v6_accepted), "peer").starts_with("\"[::1]:"));

  // A pattern for the IPv4 address takes in the mapped peer, as the library's filter does.
  ProcessRun applied = kashim({"apply", "--pid", std::to_string(target.pid()), "--peers",
                               "127.0.0.1", "--direction", "in", "--idle", "60"});
  EXPECT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_TRUE(target.ask("values " + std::to_string(mapped)).starts_with("keepalive 1 idle 60"));
  EXPECT_EQ(target.ask("values " + std::to_string(v6_accepted)), untuned_values());
  EXPECT_EQ(target.ask("values " + std::to_string(v4_client)), untuned_values());
}

TEST(InspectStatus, SeesIntoAnotherNetworkNamespace) {
  KASHIM_REQUIRE(running_as_root(), "root (to make a network namespace and enter it)");
  // A container's view: the target's sockets live in a network namespace of their own,
  // where this process's sock_diag query cannot see them.
  Child target({"unshare", "--net", "sh", "-c",
                std::string("ip link set lo up && exec ") + KASHIM_INSPECT_TARGET_PATH});
  const ThreeSockets fds = open_three(target);
  ASSERT_GE(fds.accepted, 0);
  ASSERT_EQ(target.ask("keepalive " + std::to_string(fds.client)), "ok");
  ProcessRun run = kashim({"status", "--json", std::to_string(target.pid())});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string client = socket_object(run.out, target.pid(), fds.client);
  EXPECT_EQ(field(client, "state"), "\"ESTABLISHED\"");
  EXPECT_EQ(field(client, "timer"), "\"keepalive\"");  // sock_diag inside its namespace
  EXPECT_EQ(field(socket_object(run.out, target.pid(), fds.accepted), "direction"), "\"in\"");

  ProcessRun applied = kashim({"apply", "--pid", std::to_string(target.pid()), "--idle", "60"});
  EXPECT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_TRUE(
      target.ask("values " + std::to_string(fds.accepted)).starts_with("keepalive 1 idle 60"));
}

TEST(InspectStatus, AProgramsNameReachesNoTerminalAsAnEscapeSequence) {
  // A program may name itself anything (prctl PR_SET_NAME), escape sequences included.
  Child named({"python3", "-c",
               "import ctypes, socket, sys\n"
               "ctypes.CDLL(None).prctl(15, b'\\x1b[31m\\xc3\\xa9', 0, 0, 0)\n"
               "s = socket.create_server(('127.0.0.1', 0))\n"
               "print('ready', flush=True)\n"
               "sys.stdin.readline()\n"});
  ASSERT_EQ(named.read_line(), "ready");
  ProcessRun table = kashim({"status", std::to_string(named.pid())});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos);
  EXPECT_NE(table.out.find(std::to_string(named.pid()) + "/?[31m?? "), std::string::npos)
      << table.out;
  ProcessRun json = kashim({"status", "--json", std::to_string(named.pid())});
  EXPECT_NE(json.out.find("\"comm\":\"\\u001b[31m\xc3\xa9\""), std::string::npos) << json.out;
}

TEST(InspectStatus, AThousandSocketsInOneProcess) {
  Child target = start_target();
  const std::string range = target.ask("pairs 500");
  int first = -1, last = -1;
  ASSERT_EQ(std::sscanf(range.c_str(), "fd %d..%d", &first, &last), 2) << range;
  const std::string pid = std::to_string(target.pid());

  ProcessRun status = kashim({"status", "--json", pid});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(socket_count(status.out), 1001);

  std::vector<std::string> apply = {"apply", "--pid", pid};
  apply.insert(apply.end(), kApplied.begin(), kApplied.end());
  ProcessRun applied = kashim(apply);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_NE(applied.out.find("1001 tuned, 0 already as configured, 0 left alone, 0 not tuned"),
            std::string::npos)
      << lines_of(applied.out).back();
  int tuned = 0;
  for (int fd = first; fd <= last; ++fd) {
    tuned += target.ask("values " + std::to_string(fd)) == kAppliedValues;
  }
  EXPECT_EQ(last - first + 1, 1001);
  EXPECT_EQ(tuned, 1001);
}

}  // namespace
}  // namespace kashim::testing
