// What `kashim cgroup` costs a connection: the loopback connect+accept+close rate of one
// process with kashim's programs applying to its sockets (both ends tuned at establishment)
// and without, alternated many times in one run. Root only.
//
// The process runs under `kashim-cgroup cgroup run` and moves itself between the run's
// cgroup and its parent before each batch: a socket belongs to the cgroup its creator was
// in, so the batches differ only in the programs, not in the process, its caches or the
// machine's load at another moment. Prints the medians, the ratio with the spread of the
// per-round ratios, and the target; exit status 1 when the ratio is below it.
//   cgroup_bench                the comparison (KASHIM_* variables: the settings)
//   cgroup_bench --alternate    the measuring process, inside `kashim cgroup run`
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr int kRounds = 21;
constexpr int kConnections = 4000;  // per batch
constexpr double kTarget = 0.97;

double seconds_now() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Connections per second; 0 when a call failed.
double measure(int connections) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("cgroup_bench: listen");
    return 0;
  }
  // An abortive close: no TIME_WAIT, so the run never runs out of ephemeral ports.
  const linger abort_on_close = {1, 0};
  const double start = seconds_now();
  for (int i = 0; i < connections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      std::perror("cgroup_bench: connect");
      return 0;
    }
    const int accepted = accept(listener, nullptr, nullptr);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close(fd);
    close(accepted);
  }
  const double rate = connections / (seconds_now() - start);
  close(listener);
  return rate;
}

bool move_to(const std::string& cgroup) {
  std::ofstream procs(cgroup + "/cgroup.procs");
  procs << getpid() << std::endl;
  return static_cast<bool>(procs);
}

std::string cgroup2_mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    const std::size_t dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    std::size_t start = 0;
    for (int field = 0; field < 4; ++field) start = line.find(' ', start) + 1;
    return line.substr(start, line.find(' ', start) - start);  // the fifth field
  }
  return "";
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int alternate() {
  std::string tuned;  // the run's cgroup: /proc/self/cgroup's 0:: line under the mount
  std::ifstream membership("/proc/self/cgroup");
  for (std::string line; std::getline(membership, line);) {
    if (line.rfind("0::", 0) == 0) tuned = cgroup2_mount() + line.substr(3);
  }
  if (tuned.find("/kashim-run.") == std::string::npos) {
    std::fprintf(stderr, "cgroup_bench: --alternate runs inside `kashim cgroup run`\n");
    return 1;
  }
  const std::string plain = tuned.substr(0, tuned.rfind('/'));
  std::vector<double> without, with, ratios;
  for (int round = 0; round < kRounds; ++round) {
    if (!move_to(plain)) return 1;
    without.push_back(measure(kConnections));
    if (!move_to(tuned)) return 1;
    with.push_back(measure(kConnections));
    if (without.back() == 0 || with.back() == 0) return 1;
    ratios.push_back(with.back() / without.back());
  }
  const double ratio = median(with) / median(without);
  std::printf("cgroup: loopback connect+accept+close, one process, %d rounds of %d connections\n",
              kRounds, kConnections);
  std::printf("  without kashim cgroup  %10.0f /s (median)\n", median(without));
  std::printf("  with kashim cgroup     %10.0f /s (median)\n", median(with));
  std::printf("  ratio %.3f (rounds %.3f..%.3f), target >= %.2f: %s\n", ratio,
              *std::min_element(ratios.begin(), ratios.end()),
              *std::max_element(ratios.begin(), ratios.end()), kTarget,
              ratio >= kTarget ? "met" : "NOT met");
  return ratio >= kTarget ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--alternate") return alternate();
  if (geteuid() != 0) {
    std::fprintf(stderr, "cgroup_bench: needs root (kashim cgroup loads BPF programs)\n");
    return 1;
  }
  char self[4096] = {};  // our own path: /proc/self/exe would be kashim-cgroup's in its child
  if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) return 1;
  const char* tool = KASHIM_CGROUP_TOOL;
  execl(tool, tool, "cgroup", "run", "--", self, "--alternate", nullptr);
  std::perror(tool);
  return 1;
}
