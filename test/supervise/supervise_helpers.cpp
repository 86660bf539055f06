#include "supervise_helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <regex>
#include <stdexcept>

extern char** environ;

namespace kashim::testing {

std::string supervisor_path() {
  return std::string(KASHIM_BUILD_DIR) + "/kashim-supervise";
}

std::string program_path(const std::string& name) {
  return std::string(KASHIM_BUILD_DIR) + "/test/programs/" + name;
}

bool go_programs_built() {
  return access(program_path("go_client").c_str(), X_OK) == 0;
}

ProcessRun run_supervised_probe(const std::vector<std::string>& scenario,
                                const Environment& environment, bool supervised) {
  std::vector<std::string> launcher;
  if (supervised) launcher = {supervisor_path(), "--"};
  return run_probe_program(launcher, SUPERVISE_PROBE_PATH, scenario, environment);
}

long notification_count(const ProcessRun& run, const std::string& kind) {
  static const std::regex counts(
      "supervise: pid [0-9]+ [a-z]+, ([0-9]+) notifications \\(connect ([0-9]+), listen "
      "([0-9]+), accept ([0-9]+), fastopen ([0-9]+), setsockopt ([0-9]+), other ([0-9]+)\\)");
  std::smatch match;
  if (!std::regex_search(run.err, match, counts)) return -1;
  const char* kinds[] = {"total", "connect", "listen", "accept", "fastopen", "setsockopt", "other"};
  for (int i = 0; i < 7; ++i) {
    if (kind == kinds[i]) return std::stol(match[i + 1].str());
  }
  return -1;
}

Background start_background(const std::vector<std::string>& argv, const Environment& environment) {
  Background background;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  std::vector<std::string> entries = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  for (const auto& [name, value] : environment) entries.push_back(name + "=" + value);
  std::vector<char*> args, envp;
  for (const std::string& word : argv) args.push_back(const_cast<char*>(word.c_str()));
  args.push_back(nullptr);
  for (const std::string& entry : entries) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  // A process group of its own, as a shell would give a job: the test's signals reach only
  // what they are sent to.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  int spawned =
      posix_spawn(&background.pid, args[0], &actions, &attributes, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(out[1]);
  close(err[1]);
  background.out = out[0];
  background.err = err[0];
  if (spawned != 0) throw std::runtime_error("cannot run " + argv[0]);
  return background;
}

std::string Background::wait_for_output(const std::string& text) {
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (seen.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd entry{out, POLLIN, 0};
    if (poll(&entry, 1, 1000) <= 0) continue;
    char buffer[256];
    ssize_t got = read(out, buffer, sizeof buffer);
    if (got <= 0) break;
    seen.append(buffer, static_cast<std::size_t>(got));
  }
  return seen;
}

bool Background::wait_for_error_output(const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (err_text.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    pollfd entry{err, POLLIN, 0};
    if (poll(&entry, 1, 1000) <= 0) continue;
    char buffer[256];
    ssize_t got = read(err, buffer, sizeof buffer);
    if (got <= 0) return false;
    err_text.append(buffer, static_cast<std::size_t>(got));
  }
  return true;
}

int Background::wait_status() {
  int status = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd entry{err, POLLIN, 0};
    if (poll(&entry, 1, 100) > 0) {
      char buffer[1024];
      ssize_t got = read(err, buffer, sizeof buffer);
      if (got > 0) err_text.append(buffer, static_cast<std::size_t>(got));
    }
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return status;
    }
  }
  return -1;
}

Background::~Background() {
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  if (out >= 0) close(out);
  if (err >= 0) close(err);
}

bool process_ends(pid_t pid) {
  // A pidfd turns readable when its process has ended, zombie or reaped: no polling loop.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return errno == ESRCH;
  pollfd entry{pidfd, POLLIN, 0};
  const bool ended = poll(&entry, 1, 10000) == 1;
  close(pidfd);
  return ended;
}

}  // namespace kashim::testing
