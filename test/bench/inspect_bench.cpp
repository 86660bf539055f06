// inspect_bench: what `kashim status` costs for a process holding 1 000 sockets (500
// loopback connections, both ends, and their listener). Each command runs several times in
// turn with `ss -tnoip` (the kernel's listing with the process mapping, the closest existing
// tool); the medians, the cost per socket and the ratio to ss are printed. A figure, not a
// test: the suite asserts counts (test/inspect/status_test.cpp).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "child.hpp"

extern char** environ;

namespace {

constexpr int kRounds = 15;
constexpr int kSockets = 1001;

// One run of `argv` with its output discarded; seconds, or -1 when it failed.
double time_run(const std::vector<std::string>& argv) {
  std::vector<std::string> args = argv;
  std::vector<char*> pointers;
  for (auto& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int spawned =
      posix_spawnp(&pid, args[0].c_str(), &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (spawned != 0 || waitpid(pid, &status, 0) != pid) return -1;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? took.count() : -1;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main() {
  kashim::testing::Child target({KASHIM_INSPECT_TARGET_PATH});
  const std::string opened = target.ask("pairs 500");
  if (opened.rfind("fd ", 0) != 0) {
    std::fprintf(stderr, "inspect_bench: the target could not open its sockets: %s\n",
                 opened.c_str());
    return 1;
  }
  const std::string pid = std::to_string(target.pid());
  struct Command {
    const char* name;
    std::vector<std::string> argv;
    std::vector<double> seconds;
  };
  std::vector<Command> commands = {
      {"kashim status PID", {KASHIM_INSPECT_PATH, "status", pid}, {}},
      {"kashim status --json PID", {KASHIM_INSPECT_PATH, "status", "--json", pid}, {}},
      {"ss -tnoip (every socket)", {"ss", "-tnoip"}, {}},
  };
  for (int round = 0; round < kRounds; ++round) {
    for (Command& command : commands) {
      const double seconds = time_run(command.argv);
      if (seconds < 0) {
        std::fprintf(stderr, "inspect_bench: %s failed\n", command.name);
        return 1;
      }
      command.seconds.push_back(seconds);
    }
  }
  const double ss = median(commands.back().seconds);
  std::printf("kashim status over %d sockets in one process (median of %d runs)\n", kSockets,
              kRounds);
  for (const Command& command : commands) {
    const double seconds = median(command.seconds);
    std::printf("  %-26s %8.2f ms  %6.2f us/socket  %5.2f x ss\n", command.name, seconds * 1e3,
                seconds * 1e6 / kSockets, seconds / ss);
  }
  return 0;
}
