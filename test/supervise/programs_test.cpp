// Real programs LD_PRELOAD cannot reach (test/programs: static C, Go) under the supervisor,
// each connection's keep-alive as the program itself reads it back from the kernel.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

const char* const kTunedLine = "keepalive=1 idle=31 intvl=7 cnt=4 user_timeout=2500";

// A server started (supervised or not) in the background, and the port it listens on.
struct Server {
  Background process;
  std::string port;
};

// `shell`, when given, is a /bin/sh script that runs the program, "PROGRAM" standing for its
// command line: the shell is then COMMAND.
std::vector<std::string> under_shell(const std::vector<std::string>& argv,
                                     const std::string& shell) {
  if (shell.empty()) return argv;
  std::string line;
  for (const std::string& word : argv) line += (line.empty() ? "" : " ") + word;
  std::string script = shell;
  script.replace(script.find("PROGRAM"), 7, line);
  return {"/bin/sh", "-c", script};
}

Server start_server(const std::string& name, const Environment& environment, bool supervised,
                    const std::string& shell = "") {
  std::vector<std::string> argv = under_shell({program_path(name), "127.0.0.1", "0"}, shell);
  if (supervised) argv.insert(argv.begin(), {supervisor_path(), "--"});
  Server server{start_background(argv, environment), ""};
  if (server.process.wait_for_error_output("listening on port ")) {
    std::smatch match;
    static const std::regex port("listening on port ([0-9]+)");
    if (std::regex_search(server.process.err_text, match, port)) server.port = match[1];
  }
  return server;
}

// The client's report of its connection, once the server has accepted it; the server then
// ends (SIGTERM), and the client sees the end of the stream and exits 0.
std::string client_report(const std::string& client, const Environment& environment,
                          bool supervised, const std::string& shell = "") {
  Server server = start_server("static_server", {}, false);
  if (server.port.empty()) return "no server: " + server.process.err_text;
  std::vector<std::string> argv =
      under_shell({program_path(client), "127.0.0.1", server.port}, shell);
  if (supervised) argv.insert(argv.begin(), {supervisor_path(), "--"});
  Background running = start_background(argv, environment);
  const bool connected = running.wait_for_error_output(" connected ");
  server.process.wait_for_error_output(" accepted ");
  kill(server.process.pid, SIGTERM);
  const int status = running.wait_status();
  if (!connected || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "client failed: " + running.err_text;
  }
  return running.err_text;
}

std::string server_report(const std::string& server_name, const Environment& environment,
                          const std::string& shell = "") {
  Server server = start_server(server_name, environment, true, shell);
  if (server.port.empty()) return "no server: " + server.process.err_text;
  Background client =
      start_background({program_path("static_client"), "127.0.0.1", server.port}, {});
  server.process.wait_for_error_output(" accepted ");
  client.wait_for_error_output(" connected ");
  kill(client.pid, SIGTERM);
  server.process.wait_status();
  return server.process.err_text;
}

TEST(SupervisePrograms, StaticClientIsTuned) {
  EXPECT_NE(client_report("static_client", kTuned, true).find(kTunedLine), std::string::npos);
  EXPECT_EQ(client_report("static_client", kTuned, false).find(kTunedLine), std::string::npos)
      << "without the supervisor nothing tunes it";
}

// Each process of COMMAND's tree gets the configuration of the program it runs, chosen by
// its own names as the library chooses it inside that program: a shell's child is decided by
// the client's scope and [program] section, not by the shell's (COMMAND's). Whether the
// shell execs the client in its own process or forks a child for it.
TEST(SupervisePrograms, EachProcessIsDecidedByTheProgramItRuns) {
  const std::string file = scratch_path("per-program.conf");
  {
    std::ofstream(file) << "idle = 31\nintvl = 7\ncnt = 4\nuser_timeout = 2500ms\n"
                        << "[program static_client]\nidle = 41\n";
  }
  chmod(file.c_str(), 0644);
  const Environment from_file = {{"KASHIM_CONFIG", file}};
  const std::string sectioned = "keepalive=1 idle=41 intvl=7 cnt=4 user_timeout=2500";
  for (const char* shell : {"exec PROGRAM", "PROGRAM; true"}) {
    SCOPED_TRACE(shell);
    const std::string report = client_report("static_client", from_file, true, shell);
    EXPECT_NE(report.find("static_client: connected " + sectioned), std::string::npos) << report;
  }
}

// A program's section decides its own calls' lines; the supervisor's own (its counts when
// COMMAND ends) follow COMMAND's configuration, whichever program called last.
TEST(SupervisePrograms, TheSupervisorsOwnLinesFollowCommandsConfiguration) {
  const std::string file = scratch_path("per-program-log.conf");
  { std::ofstream(file) << "idle = 31\nlog = debug\n[program static_client]\nlog = error\n"; }
  chmod(file.c_str(), 0644);
  const std::string report =
      client_report("static_client", {{"KASHIM_CONFIG", file}}, true, "PROGRAM; true");
  EXPECT_NE(report.find("static_client: connected keepalive=1 idle=31"), std::string::npos)
      << report;
  EXPECT_EQ(report.find("connecting to"), std::string::npos) << "the client's own: " << report;
  EXPECT_NE(report.find(" notifications (connect 1,"), std::string::npos) << report;
}

TEST(SupervisePrograms, AProgramScopeIsDecidedForEachProcessOfCommandsTree) {
  const std::string plain = client_report("static_client", {}, false, "PROGRAM; true");
  ASSERT_NE(plain.find("static_client: connected keepalive=0 "), std::string::npos) << plain;
  for (const char* shell : {"exec PROGRAM", "PROGRAM; true"}) {
    for (const char* scope : {"!static_*,*", "sh"}) {
      SCOPED_TRACE(std::string(shell) + " with KASHIM_PROGRAMS=" + scope);
      // The shell is in, its client is left out: the client is as without kashim.
      const std::string report =
          client_report("static_client", with(kTuned, "KASHIM_PROGRAMS", scope), true, shell);
      EXPECT_NE(report.find("static_client: connected keepalive=0 "), std::string::npos) << report;
    }
  }
}

// A COMMAND the scope leaves out runs as without kashim, not under the filter, whatever
// sections or scope its children may match: supervising its tree would change what every
// program of it observes (no_new_privs: a set-user-ID program loses its privilege).
TEST(SupervisePrograms, ACommandLeftOutRunsWithoutTheSupervisor) {
  const std::string file = scratch_path("left-out.conf");
  { std::ofstream(file) << "programs = static_*\nidle = 31\n[program static_client]\nidle = 41\n"; }
  chmod(file.c_str(), 0644);
  for (const Environment& environment :
       {Environment{{"KASHIM_CONFIG", file}}, Environment{{"KASHIM_PROGRAMS", "php*"}},
        Environment{{"KASHIM_DISABLE", "1"}, {"KASHIM_PROGRAMS", "php*"}}}) {
    SCOPED_TRACE(environment.front().first + "=" + environment.front().second);
    ProcessRun run = run_command({supervisor_path(), "--", "/bin/sh", "-c",
                                  "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"},
                                 environment);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, "NoNewPrivs:\t0\nSeccomp:\t0\n");
    EXPECT_EQ(run.err, "");
  }
}

// The library decides a process's configuration by the names it has at its first hooked
// call, and a fork keeps its parent's: a prefork server whose worker renames itself
// (argv[0], as gunicorn and nginx do) keeps the section its master got. The supervisor
// decides by the names a program image has when it is first seen.
TEST(SupervisePrograms, AProcessThatRenamesItselfKeepsItsConfiguration) {
  KASHIM_REQUIRE(access("/usr/bin/perl", X_OK) == 0, "perl");
  sockaddr_in address;
  const int listener = loopback_listener(SOCK_CLOEXEC, &address, 16);
  const std::string port = std::to_string(ntohs(address.sin_port));
  const std::string script = scratch_path("prefork.pl");
  {
    std::ofstream(script)
        << "#!/usr/bin/perl\n"
           "use Socket qw(:all); use IO::Socket::INET;\n"
           "sub report { my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:"
        << port
        << "') or die \"connect: $!\";\n"
           "  printf STDERR \"%s idle=%d\\n\", $_[0], unpack('i', getsockopt($s, IPPROTO_TCP, "
           "TCP_KEEPIDLE)); }\n"
           "report('master'); $0 = 'app: master'; report('renamed');\n"
           "if (!fork) { $0 = 'app: worker'; report('worker'); exit 0 } wait;\n";
  }
  chmod(script.c_str(), 0755);
  const std::string file = scratch_path("prefork.conf");
  { std::ofstream(file) << "idle = 31\n[program perl]\nidle = 41\n"; }
  chmod(file.c_str(), 0644);
  // The script is app.pl to exec (AT_EXECFN), perl by its argv[0] (the kernel's #! rule):
  // the section is the master's by argv[0] alone.
  ProcessRun run = run_command({supervisor_path(), "--", script}, {{"KASHIM_CONFIG", file}});
  close(listener);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "master idle=41\nrenamed idle=41\nworker idle=41\n");
}

// A peer filter in one program's section only: accept() reaches the supervisor (COMMAND's
// own configuration has no filter), and that program's connections are decided one by one.
// A peer filter in one program's section only: accept() reaches the supervisor (COMMAND's
// own configuration has no filter), and that program's connections are decided one by one.
// ... and only that program's: another's accept is the kernel's, as without a filter.
TEST(SupervisePrograms, APeerFilterInAnotherProgramsSectionLeavesAcceptToTheKernel) {
  const std::string file = scratch_path("other-program-peers.conf");
  {
    std::ofstream(file) << "idle = 31\nintvl = 7\ncnt = 4\nuser_timeout = 2500ms\n"
                        << "[program nothing-like-this*]\npeers = 192.0.2.1\n";
  }
  chmod(file.c_str(), 0644);
  const std::string report = server_report(
      "static_server", {{"KASHIM_CONFIG", file}, {"KASHIM_LOG", "debug"}}, "exec PROGRAM");
  EXPECT_NE(report.find("static_server: accepted " + std::string(kTunedLine)), std::string::npos)
      << report;
  EXPECT_NE(report.find("accept 1"), std::string::npos) << "the premise: notified: " << report;
  EXPECT_EQ(report.find("accepted on fd"), std::string::npos)
      << "decided by the supervisor's own accept: " << report;
}

TEST(SupervisePrograms, APeerFilterInAProgramsSectionDecidesItsAcceptedConnections) {
  for (const char* peers : {"127.0.0.1", "192.0.2.1"}) {
    SCOPED_TRACE(peers);
    const std::string file = scratch_path("per-program-peers.conf");
    {
      std::ofstream(file) << "idle = 31\nintvl = 7\ncnt = 4\nuser_timeout = 2500ms\n"
                          << "[program static_server]\npeers = " << peers << "\n";
    }
    chmod(file.c_str(), 0644);
    const std::string report = server_report(
        "static_server", {{"KASHIM_CONFIG", file}, {"KASHIM_LOG", "debug"}}, "exec PROGRAM");
    EXPECT_NE(report.find(std::string("static_server: accepted ") +
                          (peers == std::string("127.0.0.1") ? kTunedLine : "keepalive=0 ")),
              std::string::npos)
        << report;
    EXPECT_NE(report.find("accept 1"), std::string::npos) << "accept() was notified: " << report;
  }
}

TEST(SupervisePrograms, StaticServerIsTuned) {
  const std::string report = server_report("static_server", kTuned);
  EXPECT_NE(report.find("static_server: accepted " + std::string(kTunedLine)), std::string::npos)
      << report;
}

TEST(SupervisePrograms, GoClientForceModeReplacesGosFifteenSeconds) {
  KASHIM_REQUIRE_GO();
  const std::string plain = client_report("go_client", kTuned, false);
  EXPECT_NE(plain.find("keepalive=1 idle=15 intvl=15"), std::string::npos)
      << "Go's own default: " << plain;
  const std::string report = client_report("go_client", with(kTuned, "KASHIM_LOG", "debug"), true);
  EXPECT_NE(report.find("go_client: connected " + std::string(kTunedLine)), std::string::npos)
      << report;
  EXPECT_NE(report.find("= 15 replaced by 31 (KASHIM_MODE=force)"), std::string::npos) << report;
}

TEST(SupervisePrograms, GoClientFallbackModeKeepsGosOwnValues) {
  KASHIM_REQUIRE_GO();
  const std::string report =
      client_report("go_client", with(kTuned, "KASHIM_MODE", "fallback"), true);
  // Go sets idle and interval itself; what it leaves alone is kashim's.
  EXPECT_NE(report.find("go_client: connected keepalive=1 idle=15 intvl=15 "), std::string::npos)
      << report;
  EXPECT_NE(report.find("user_timeout=2500"), std::string::npos) << report;
}

TEST(SupervisePrograms, GoServerForceModeReplacesGosFifteenSeconds) {
  KASHIM_REQUIRE_GO();
  const std::string report = server_report("go_server", kTuned);
  EXPECT_NE(report.find("go_server: accepted " + std::string(kTunedLine)), std::string::npos)
      << report;
}

// A C server sets no keep-alive of its own: the supervisor decides each connection at accept.
TEST(SupervisePrograms, StaticServerWithAPeerFilterDecidesEachConnection) {
  const std::string matching =
      server_report("static_server", with(kTuned, "KASHIM_PEERS", "127.0.0.1"));
  EXPECT_NE(matching.find("static_server: accepted " + std::string(kTunedLine)), std::string::npos)
      << matching;
  const std::string other =
      server_report("static_server", with(kTuned, "KASHIM_PEERS", "192.0.2.1"));
  EXPECT_NE(other.find("static_server: accepted keepalive=0 "), std::string::npos) << other;
}

TEST(SupervisePrograms, GoServerWithAPeerFilterDecidesEachConnection) {
  KASHIM_REQUIRE_GO();
  // Decided at accept; Go's own keep-alive calls on it then keep the configured values.
  const std::string matching =
      server_report("go_server", with(kTuned, "KASHIM_PEERS", "127.0.0.1"));
  EXPECT_NE(matching.find("go_server: accepted " + std::string(kTunedLine)), std::string::npos)
      << matching;
  const std::string other = server_report("go_server", with(kTuned, "KASHIM_PEERS", "192.0.2.1"));
  EXPECT_NE(other.find("go_server: accepted keepalive=1 idle=15 intvl=15 "), std::string::npos)
      << other;
}

}  // namespace
}  // namespace kashim::testing
