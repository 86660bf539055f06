// `kashim apply --pid`: kashim's configuration applied to the sockets of a running program,
// read back inside the program and from the kernel's own timers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <regex>

#include "inspect_helpers.hpp"

namespace kashim::testing {
namespace {

std::vector<std::string> apply_args(pid_t pid, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"apply", "--pid", std::to_string(pid)};
  args.insert(args.end(), kApplied.begin(), kApplied.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Minutes left on the keep-alive timer `ss -tnoi` shows for the connection to `port`, or -1
// when the connection has no keep-alive timer.
int keepalive_minutes_in_ss(int port) {
  ProcessRun ss = run_command(
      {"ss", "-tnoi", "state", "established", "dport", "=", ":" + std::to_string(port)}, {});
  std::smatch match;
  static const std::regex timer(R"(timer:\(keepalive,(\d+)min)");
  return std::regex_search(ss.out, match, timer) ? std::stoi(match[1].str()) : -1;
}

// The timer says keep-alive runs with an idle time of 600 s: at most 10 minutes left, where
// the kernel's default of 2 hours would show 119.
void expect_ten_minute_keepalive(int port) {
  const int minutes = keepalive_minutes_in_ss(port);
  EXPECT_GE(minutes, 9);
  EXPECT_LE(minutes, 10);
}

const char* const kPythonClient = R"(
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
print('connected', flush=True)
for _ in sys.stdin:
    get = s.getsockopt
    print('keepalive %d idle %d intvl %d cnt %d user_timeout %d' % (
        get(socket.SOL_SOCKET, socket.SO_KEEPALIVE), get(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        get(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), get(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        get(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)), flush=True)
)";

TEST(InspectApply, TunesAPythonClientThatReadsTheValuesBackItself) {
  Child server = start_target();
  const int port = port_in(server.ask("listen 127.0.0.1"));
  Child client({"python3", "-c", kPythonClient, std::to_string(port)});
  ASSERT_EQ(client.read_line(), "connected");
  EXPECT_EQ(client.ask("values"), untuned_values());

  ProcessRun run = kashim(apply_args(client.pid()));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("tuned (keep-alive off -> on, idle"), std::string::npos) << run.out;
  EXPECT_EQ(client.ask("values"), kAppliedValues);

  // Read through kashim's own path too: the duplicate's getsockopt, and nothing left to do.
  ProcessRun status = kashim({"status", "--json", std::to_string(client.pid())}, {});
  const std::string object = first_socket(status.out);
  EXPECT_EQ(field(object, "keepalive"), "true");
  EXPECT_EQ(field(object, "idle_s"), "60");
  EXPECT_EQ(field(object, "user_timeout_ms"), "30000");
  EXPECT_EQ(field(object, "timer"), "\"keepalive\"");
  ProcessRun again = kashim(apply_args(client.pid()));
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("unchanged (as configured)"), std::string::npos) << again.out;
}

TEST(InspectApply, AListenerPassesTheValuesToConnectionsAcceptedAfterwards) {
  Child server = start_target();
  const std::string listening = server.ask("listen 127.0.0.1");
  const std::string listener = std::to_string(fd_in(listening));
  const std::string connect = "connect 127.0.0.1 " + std::to_string(port_in(listening));
  // Before: an accepted connection is untuned.
  ASSERT_GE(fd_in(server.ask(connect)), 0);
  const int before = fd_in(server.ask("accept " + listener));
  EXPECT_EQ(server.ask("values " + std::to_string(before)), untuned_values());

  ProcessRun run = kashim(apply_args(server.pid()));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;

  ASSERT_GE(fd_in(server.ask(connect)), 0);
  const int after = fd_in(server.ask("accept " + listener));
  ASSERT_GE(after, 0);
  EXPECT_EQ(server.ask("values " + std::to_string(after)), kAppliedValues);
}

TEST(InspectApply, StatusShowsANcConnectionWithTheAppliedValues) {
  Child server = start_target();
  const std::string listening = server.ask("listen 127.0.0.1");
  const int port = port_in(listening);
  Child nc({"nc", "127.0.0.1", std::to_string(port)});
  ASSERT_GE(fd_in(server.ask("accept " + std::to_string(fd_in(listening)))), 0);
  EXPECT_EQ(keepalive_minutes_in_ss(port), -1);

  ProcessRun run = kashim(
      {"apply", "--pid", std::to_string(nc.pid()), "--idle", "600", "--intvl", "10", "--cnt", "6"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  expect_ten_minute_keepalive(port);

  ProcessRun status =
      kashim({"status", std::to_string(nc.pid()), "--idle", "600", "--intvl", "10", "--cnt", "6"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  ASSERT_EQ(lines_of(status.out).size(), 2u) << status.out;
  const std::string row = lines_of(status.out)[1];
  EXPECT_TRUE(row.starts_with(std::to_string(nc.pid()) + "/nc")) << row;
  EXPECT_NE(row.find("on 10m/10s/6"), std::string::npos) << row;
  EXPECT_NE(row.find(" ka 9m"), std::string::npos) << row;
  EXPECT_TRUE(row.ends_with(" ok")) << row;
}

TEST(InspectApply, TunesAStaticallyLinkedProgram) {
  Child target = start_static_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int port = port_in(listening);
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port)));
  ASSERT_GE(client, 0);
  ProcessRun run = kashim(apply_args(target.pid()));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(target.ask("values " + std::to_string(client)), kAppliedValues);
}

TEST(InspectApply, TunesTheProjectsStaticClient) {
  const std::string program = std::string(KASHIM_BUILD_DIR) + "/test/programs/static_client";
  KASHIM_REQUIRE(access(program.c_str(), X_OK) == 0, "test/programs/static_client");
  Child server = start_target();
  const std::string listening = server.ask("listen 127.0.0.1");
  const int port = port_in(listening);
  Child client({program, "127.0.0.1", std::to_string(port)}, Child::Reads::kStderr);
  EXPECT_TRUE(client.read_line().starts_with("static_client: connected keepalive=0"));
  ASSERT_GE(fd_in(server.ask("accept " + std::to_string(fd_in(listening)))), 0);

  ProcessRun run = kashim({"apply", "--pid", std::to_string(client.pid()), "--idle", "600"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  expect_ten_minute_keepalive(port);
}

TEST(InspectApply, DryRunChangesNothing) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ProcessRun run = kashim(apply_args(target.pid(), {"--dry-run"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("2 would be tuned"), std::string::npos) << run.out;
  EXPECT_EQ(target.ask("values " + std::to_string(client)), untuned_values());
  EXPECT_EQ(target.ask("values " + std::to_string(fd_in(listening))), untuned_values());
}

TEST(InspectApply, FallbackModeLeavesTheProgramsOwnKeepaliveAlone) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const std::string connect = "connect 127.0.0.1 " + std::to_string(port_in(listening));
  const int own = fd_in(target.ask(connect));
  const int plain = fd_in(target.ask(connect));
  ASSERT_EQ(target.ask("keepalive " + std::to_string(own)), "ok");
  std::string own_values = untuned_values();
  own_values.replace(0, std::string("keepalive 0").size(), "keepalive 1");

  ProcessRun fallback = kashim(apply_args(target.pid(), {"--mode", "fallback"}));
  EXPECT_EQ(fallback.exit_code, 0) << fallback.out << fallback.err;
  EXPECT_EQ(target.ask("values " + std::to_string(own)), own_values);
  EXPECT_EQ(target.ask("values " + std::to_string(plain)), kAppliedValues);

  ProcessRun force = kashim(apply_args(target.pid()));
  EXPECT_EQ(force.exit_code, 0) << force.out << force.err;
  EXPECT_EQ(target.ask("values " + std::to_string(own)), kAppliedValues);
}

// A program that chose a keep-alive option itself but left keep-alive off keeps its whole
// choice in fallback mode, as the library and the supervisor decide for a socket they did not
// see made (core/decided_before): nothing is switched on, its idle is not replaced.
TEST(InspectApply, FallbackModeLeavesAProgramsOwnOptionAloneThoughKeepaliveIsOff) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int own = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ASSERT_EQ(target.ask("idle " + std::to_string(own) + " 100"), "ok");
  const std::string own_values = target.ask("values " + std::to_string(own));
  ASSERT_NE(own_values, untuned_values());

  const ProcessRun status = kashim(
      {"status", "--json", "--mode", "fallback", "--idle", "60", std::to_string(target.pid())});
  EXPECT_EQ(field(socket_object(status.out, target.pid(), own), "kashim"), "\"own\"") << status.out;
  const ProcessRun fallback = kashim(apply_args(target.pid(), {"--mode", "fallback"}));
  EXPECT_EQ(fallback.exit_code, 0) << fallback.out << fallback.err;
  EXPECT_EQ(target.ask("values " + std::to_string(own)), own_values) << fallback.out;
}

TEST(InspectApply, DirectionInTunesListenersAndAcceptedConnectionsOnly) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int listener = fd_in(listening);
  const int opened = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  const int accepted = fd_in(target.ask("accept " + std::to_string(listener)));
  const int unconnected = fd_in(target.ask("socket"));

  ProcessRun run = kashim(apply_args(target.pid(), {"--direction", "in"}));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(target.ask("values " + std::to_string(listener)), kAppliedValues);
  EXPECT_EQ(target.ask("values " + std::to_string(accepted)), kAppliedValues);
  EXPECT_EQ(target.ask("values " + std::to_string(opened)), untuned_values());
  // A filter decides at connect(), which apply cannot see: left as it is.
  EXPECT_EQ(target.ask("values " + std::to_string(unconnected)), untuned_values());
  EXPECT_NE(run.out.find("2 tuned, 0 already as configured, 2 left alone"), std::string::npos)
      << run.out;

  // Without a filter, an unconnected socket is tuned, as the library tunes it at socket().
  ProcessRun all = kashim(apply_args(target.pid()));
  EXPECT_EQ(all.exit_code, 0) << all.out << all.err;
  EXPECT_EQ(target.ask("values " + std::to_string(unconnected)), kAppliedValues);
}

TEST(InspectApply, BadArgumentsAndMissingProcesses) {
  ProcessRun no_pid = kashim({"apply", "--idle", "60"});
  EXPECT_EQ(no_pid.exit_code, 2);
  EXPECT_NE(no_pid.err.find("no process given (--pid PID)"), std::string::npos) << no_pid.err;
  ProcessRun bad_pid = kashim({"apply", "--pid", "12x"});
  EXPECT_EQ(bad_pid.exit_code, 2);
  EXPECT_NE(bad_pid.err.find("'12x' is not a process ID"), std::string::npos) << bad_pid.err;
  ProcessRun huge_pid = kashim({"apply", "--pid", "99999999999"});
  EXPECT_EQ(huge_pid.exit_code, 2);
  EXPECT_NE(huge_pid.err.find("'99999999999' is not a process ID: too large (accepted: a "
                              "positive whole number up to pid_max"),
            std::string::npos)
      << huge_pid.err;
  // An invalid value; an unknown option answered with the options that are accepted.
  for (const char* command : {"apply", "status"}) {
    ProcessRun bad_config = std::string(command) == "apply"
                                ? kashim({command, "--pid", "1", "--idle", "forever"})
                                : kashim({command, "1", "--idle", "forever"});
    EXPECT_EQ(bad_config.exit_code, 2);
    EXPECT_NE(bad_config.err.find("KASHIM_IDLE"), std::string::npos) << bad_config.err;
    ProcessRun misspelt = kashim({command, "--idel", "60"});
    EXPECT_EQ(misspelt.exit_code, 2);
    EXPECT_NE(misspelt.err.find(", and kashim's --idle, --intvl, --cnt, --user-timeout, --mode, "
                                "--peers, --direction)"),
              std::string::npos)
        << misspelt.err;
  }

  // A thread's ID.
  Child threaded({"python3", "-c",
                  "import threading, sys\n"
                  "t = threading.Thread(target=lambda: (print(threading.get_native_id(), "
                  "flush=True), sys.stdin.readline()))\n"
                  "t.start()\n"});
  const std::string thread = threaded.read_line();
  ProcessRun of_thread = kashim({"status", thread});
  EXPECT_EQ(of_thread.exit_code, 3);
  EXPECT_EQ(of_thread.err, "kashim status: pid " + thread +
                               " is a thread, not a process: give its process ID (Tgid in /proc/" +
                               thread + "/status)\n");

  // A process that has come and gone.
  Child gone = start_target();
  const pid_t pid = gone.pid();
  gone.kill_and_wait();
  ProcessRun apply = kashim({"apply", "--pid", std::to_string(pid)});
  EXPECT_EQ(apply.exit_code, 3);
  EXPECT_EQ(apply.err, "kashim apply: pid " + std::to_string(pid) + ": no such process\n");
  ProcessRun status = kashim({"status", std::to_string(pid)});
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.err, "kashim status: pid " + std::to_string(pid) + ": no such process\n");
}

}  // namespace
}  // namespace kashim::testing
