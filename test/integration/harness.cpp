#include "harness.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kashim::testing {
namespace {

constexpr auto kRunLimit = std::chrono::seconds(60);

std::string temporary_file() {
  char name[] = "/tmp/kashim-probe-XXXXXX";
  int fd = mkstemp(name);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  return name;
}

}  // namespace

int free_port() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "no free port";
  }
  close(fd);
  return ntohs(address.sin6_port);
}

std::pair<std::vector<std::string>, ProcessRun> calls_behind(
    const std::vector<std::string>& scenario, Environment environment, bool shim) {
  const std::string report = scratch_path("behind");
  environment.emplace_back("KASHIM_BEHIND_REPORT", report);
  environment.emplace_back("LD_PRELOAD",
                           shim ? preload_value(KASHIM_LIBRARY_PATH) + ":" + KASHIM_BEHIND_PATH
                                : std::string(KASHIM_BEHIND_PATH));
  ProcessRun run = run_probe(scenario, environment, /*preload=*/false);
  std::istringstream lines(read_file(report));
  unlink(report.c_str());
  std::vector<std::string> calls;
  for (std::string line; std::getline(lines, line);) calls.push_back(line);
  return {calls, run};
}

int loopback_listener(int type_flags, sockaddr_in* address, int backlog) {
  const int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0);
  *address = {};
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof *address;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(address), length), 0);
  EXPECT_EQ(listen(fd, backlog), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(address), &length), 0);
  return fd;
}

bool sanitized() {
  return KASHIM_SANITIZER_RUNTIME[0] != '\0';
}

std::string preload_value(const std::string& libraries) {
  if (!sanitized() || libraries.starts_with(KASHIM_SANITIZER_RUNTIME)) return libraries;
  return std::string(KASHIM_SANITIZER_RUNTIME) + ":" + libraries;
}

ProcessRun run_command(const std::vector<std::string>& argv, const Environment& environment) {
  std::vector<std::string> entries = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  for (const auto& [name, value] : environment) {
    entries.push_back(name + "=" + (name == "LD_PRELOAD" ? preload_value(value) : value));
  }
  if (sanitized()) {
    // Leak checking cannot work under strace (ptrace), nor is it ours in python3 or sh.
    // The wrapper puts libkashim.so first, before the runtime the harness put there.
    entries.push_back("ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0");
    entries.push_back("UBSAN_OPTIONS=print_stacktrace=1");
    entries.push_back("TSAN_OPTIONS=halt_on_error=1");
  }
  std::vector<char*> env_pointers, arg_pointers;
  for (auto& entry : entries) env_pointers.push_back(entry.data());
  env_pointers.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& arg : args) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, args[0].c_str(), &actions, nullptr, arg_pointers.data(),
                             env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) throw std::runtime_error("cannot run " + args[0] + ": " + strerror(spawned));

  ProcessRun run;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  int open_pipes = 2;
  auto deadline = std::chrono::steady_clock::now() + kRunLimit;
  while (open_pipes > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      run.err += "\n[harness: killed after " + std::to_string(kRunLimit.count()) + " s]";
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t got = read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(got));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  for (auto& entry : fds) {
    if (entry.fd >= 0) close(entry.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

ProcessRun run_probe(const std::vector<std::string>& scenario, Environment environment,
                     bool preload) {
  if (preload) environment.emplace_back("LD_PRELOAD", KASHIM_LIBRARY_PATH);
  return run_probe_launched_by({}, scenario, environment);
}

ProcessRun run_probe_launched_by(const std::vector<std::string>& launcher,
                                 const std::vector<std::string>& scenario,
                                 const Environment& environment) {
  return run_probe_program(launcher, KASHIM_PROBE_PATH, scenario, environment);
}

ProcessRun run_probe_program(const std::vector<std::string>& launcher, const std::string& probe,
                             const std::vector<std::string>& scenario,
                             const Environment& environment) {
  std::string results = temporary_file();
  std::vector<std::string> argv = launcher;
  argv.insert(argv.end(), {probe, results});
  argv.insert(argv.end(), scenario.begin(), scenario.end());
  ProcessRun run = run_command(argv, environment);
  take_values(read_file(results), &run);
  unlink(results.c_str());
  return run;
}

bool ipv6_available() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  bool usable = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return usable;
}

bool in_ci() {
  const char* ci = getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

void take_values(const std::string& text, ProcessRun* run) {
  for (const std::string& line : lines_of(text)) {
    const auto equals = line.find('=');
    if (equals != std::string::npos) run->values[line.substr(0, equals)] = line.substr(equals + 1);
  }
}

ProcessRun with_values(ProcessRun run) {
  take_values(run.out, &run);
  return run;
}

Environment with(Environment environment, const std::string& name, const std::string& value) {
  environment.emplace_back(name, value);
  return environment;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string scratch_path(const std::string& stem) {
  std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(test.begin(), test.end(), '/', '-');
  std::string path = "/tmp/kashim-" + stem + "-" + std::to_string(getpid()) + "-" + test;
  unlink(path.c_str());
  return path;
}

const Environment kTuned = {{"KASHIM_IDLE", "31"},
                            {"KASHIM_INTVL", "7"},
                            {"KASHIM_CNT", "4"},
                            {"KASHIM_USER_TIMEOUT", "2500ms"}};

void expect_clean(const ProcessRun& run) {
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "") << "nothing may ever reach the program's stdout";
  EXPECT_EQ(run.err, "");
}

void expect_tuned(const ProcessRun& run, const std::string& prefix) {
  EXPECT_EQ(run.value(prefix + "keepalive"), "1");
  EXPECT_EQ(run.value(prefix + "idle"), "31");
  EXPECT_EQ(run.value(prefix + "intvl"), "7");
  EXPECT_EQ(run.value(prefix + "cnt"), "4");
  EXPECT_EQ(run.value(prefix + "user_timeout"), "2500");
}

}  // namespace kashim::testing
