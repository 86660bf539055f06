// Real programs LD_PRELOAD cannot reach (test/programs: static C, Go) under the supervisor,
// each connection's keep-alive as the program itself reads it back from the kernel.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

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

Server start_server(const std::string& name, const Environment& environment, bool supervised) {
  std::vector<std::string> argv = {program_path(name), "127.0.0.1", "0"};
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
                          bool supervised) {
  Server server = start_server("static_server", {}, false);
  if (server.port.empty()) return "no server: " + server.process.err_text;
  std::vector<std::string> argv = {program_path(client), "127.0.0.1", server.port};
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

std::string server_report(const std::string& server_name, const Environment& environment) {
  Server server = start_server(server_name, environment, true);
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
