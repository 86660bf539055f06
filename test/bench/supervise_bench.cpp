// What the supervisor route costs, in one run: each measurement alternates a worker run
// plainly with the same worker run under kashim-supervise, and prints medians and ratios.
//   supervise_bench [ROUNDS]
// connect+close pays one round trip to the supervisor per connect (reported); getpid and a
// UDP sendto pass through the filter without a notification (target: ratio <= 1.02). The
// ratio is the median of the ratios of runs made side by side. Exit status 1 when a ratio
// is over its target.
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in loopback(in_port_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Nanoseconds per operation of KIND over `count` operations, in this process.
double measure(const std::string& kind, int count) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  int receiver = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in udp_address = loopback(0);
  socklen_t udp_length = sizeof udp_address;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 128) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      bind(receiver, reinterpret_cast<sockaddr*>(&udp_address), sizeof udp_address) != 0 ||
      getsockname(receiver, reinterpret_cast<sockaddr*>(&udp_address), &udp_length) != 0) {
    std::perror("supervise_bench: setup");
    std::exit(1);
  }
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    if (kind == "getpid") {
      syscall(SYS_getpid);
    } else if (kind == "udp-sendto") {
      sendto(udp, "x", 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&udp_address),
             sizeof udp_address);
    } else {  // connect+close, and the accept that keeps the backlog empty
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::perror("supervise_bench: connect");
        std::exit(1);
      }
      close(fd);
      close(accept(listener, nullptr, nullptr));
    }
  }
  const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start;
  return elapsed.count() / count;
}

// A one-instruction filter that allows everything: what any seccomp filter costs a call,
// whatever the filter says.
void install_allow_filter() {
  sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  sock_fprog program{1, &allow};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) {
    std::perror("supervise_bench: seccomp");
    std::exit(1);
  }
}

enum class Run { kPlain, kAllowFilter, kSupervised };

double run_worker(const char* self, const std::string& kind, int count, Run how) {
  std::string command = how == Run::kSupervised ? std::string(KASHIM_SUPERVISOR_PATH) + " -- " : "";
  command += std::string(self) + " worker " + kind + " " + std::to_string(count);
  if (how == Run::kAllowFilter) command += " allow-filter";
  FILE* output = popen(command.c_str(), "r");
  double result = -1;
  if (output == nullptr || std::fscanf(output, "%lf", &result) != 1) {
    std::fprintf(stderr, "supervise_bench: %s gave no result\n", command.c_str());
    std::exit(1);
  }
  pclose(output);
  return result;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "worker") == 0) {
    if (argc == 5) install_allow_filter();
    std::printf("%.3f\n", measure(argv[2], std::atoi(argv[3])));
    return 0;
  }
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
  setenv("KASHIM_IDLE", "30", 1);
  setenv("KASHIM_INTVL", "5", 1);
  setenv("KASHIM_CNT", "3", 1);
  struct Case {
    const char* kind;
    int count;
    double target;  // 0: reported, no target
  } const cases[] = {
      {"getpid", 2000000, 1.02}, {"udp-sendto", 300000, 1.02}, {"connect+close", 5000, 0}};
  std::printf(
      "supervisor route: %d rounds of runs side by side (ns per call; ratios are\n"
      "medians of the rounds' ratios; 'any filter' is a one-instruction ALLOW filter)\n",
      rounds);
  std::printf("%-14s %10s %11s %11s %12s %10s %7s\n", "call", "plain", "any filter", "supervised",
              "vs plain", "vs filter", "target");
  bool over = false;
  for (const Case& c : cases) {
    std::vector<double> times[3], versus_plain, versus_filter;
    for (int round = 0; round < rounds; ++round) {
      double pair[3];
      for (int i = 0; i < 3; ++i) {
        const int which = (i + round) % 3;  // each kind of run goes first in turn
        pair[which] = run_worker(argv[0], c.kind, c.count, static_cast<Run>(which));
        times[which].push_back(pair[which]);
      }
      // Ratios of runs made moments apart: drift in the machine's load cancels out.
      versus_plain.push_back(pair[2] / pair[0]);
      versus_filter.push_back(pair[2] / pair[1]);
    }
    const double ratio = median(versus_plain);
    std::printf("%-14s %10.1f %11.1f %11.1f %12.3f %10.3f %7s\n", c.kind, median(times[0]),
                median(times[1]), median(times[2]), ratio, median(versus_filter),
                c.target > 0 ? std::to_string(c.target).substr(0, 4).c_str() : "-");
    if (c.target > 0 && ratio > c.target) over = true;
  }
  return over ? 1 : 0;
}
