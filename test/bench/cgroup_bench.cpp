// What `kashim cgroup` costs a connection: loopback connect+accept+close rate of a process
// in a cgroup with kashim's programs attached (both ends tuned by sock_ops) against the same
// process run without them, alternated in one run. Prints the medians, the ratio with its
// spread, and the target; exit status 1 when the ratio is below it. Root only.
//   cgroup_bench                 the comparison (KASHIM_* variables: the settings)
//   cgroup_bench --measure N     one measurement: N connections, the rate on stdout
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr int kRounds = 11;
constexpr int kConnections = 10000;
constexpr double kTarget = 0.97;

double seconds_now() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

int measure(int connections) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("cgroup_bench: listen");
    return 1;
  }
  // An abortive close: no TIME_WAIT, so the run never runs out of ephemeral ports.
  const linger abort_on_close = {1, 0};
  const double start = seconds_now();
  for (int i = 0; i < connections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      std::perror("cgroup_bench: connect");
      return 1;
    }
    const int accepted = accept(listener, nullptr, nullptr);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close(fd);
    close(accepted);
  }
  std::printf("%.1f\n", connections / (seconds_now() - start));
  return 0;
}

// One measurement in a child process (in a kashim cgroup when `tool` is given): its rate.
double measured_rate(const char* self, const char* tool) {
  int output[2];
  if (pipe(output) != 0) std::exit(1);
  const pid_t child = fork();
  if (child == 0) {
    dup2(output[1], 1);
    const std::string count = std::to_string(kConnections);
    if (tool != nullptr) {
      execl(tool, tool, "cgroup", "run", "--", self, "--measure", count.c_str(), nullptr);
    } else {
      execl(self, self, "--measure", count.c_str(), nullptr);
    }
    _exit(127);
  }
  close(output[1]);
  char text[64] = {};
  const ssize_t got = read(output[0], text, sizeof text - 1);
  close(output[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "cgroup_bench: a measurement failed (%s)\n", tool ? tool : self);
    std::exit(1);
  }
  return std::atof(text);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--measure") return measure(std::atoi(argv[2]));
  if (geteuid() != 0) {
    std::fprintf(stderr, "cgroup_bench: needs root (kashim cgroup loads BPF programs)\n");
    return 1;
  }
  const char* tool = KASHIM_CGROUP_TOOL;
  char self[4096] = {};  // our own path: /proc/self/exe would be kashim-cgroup's in its child
  if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) return 1;
  std::vector<double> without, with, ratios;
  for (int round = 0; round < kRounds; ++round) {
    without.push_back(measured_rate(self, nullptr));
    with.push_back(measured_rate(self, tool));
    ratios.push_back(with.back() / without.back());
  }
  const double ratio = median(with) / median(without);
  std::printf("cgroup: loopback connect+accept+close, %d connections x %d rounds, alternated\n",
              kConnections, kRounds);
  std::printf("  without kashim cgroup  %10.0f /s (median)\n", median(without));
  std::printf("  with kashim cgroup     %10.0f /s (median)\n", median(with));
  std::printf("  ratio %.3f (rounds %.3f..%.3f), target >= %.2f: %s\n", ratio,
              *std::min_element(ratios.begin(), ratios.end()),
              *std::max_element(ratios.begin(), ratios.end()), kTarget,
              ratio >= kTarget ? "met" : "NOT met");
  return ratio >= kTarget ? 0 : 1;
}
