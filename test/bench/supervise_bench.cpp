// What the supervisor route costs, in one run: each measurement alternates a worker run
// plainly with the same worker run under kashim-supervise, and prints medians and ratios.
//   supervise_bench [ROUNDS]
// connect+close pays one round trip to the supervisor per connect (reported); getpid and a
// UDP sendto pass through the filter without a notification (target: ratio <= 1.02).
#include <arpa/inet.h>
#include <netinet/in.h>
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

double run_worker(const char* self, const std::string& kind, int count, bool supervised) {
  std::string command = supervised ? std::string(KASHIM_SUPERVISOR_PATH) + " -- " : "";
  command += std::string(self) + " worker " + kind + " " + std::to_string(count);
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
  if (argc == 4 && std::strcmp(argv[1], "worker") == 0) {
    std::printf("%.3f\n", measure(argv[2], std::atoi(argv[3])));
    return 0;
  }
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 9;
  setenv("KASHIM_IDLE", "30", 1);
  setenv("KASHIM_INTVL", "5", 1);
  setenv("KASHIM_CNT", "3", 1);
  struct Case {
    const char* kind;
    int count;
    double target;  // 0: reported, no target
  } const cases[] = {
      {"getpid", 2000000, 1.02}, {"udp-sendto", 300000, 1.02}, {"connect+close", 5000, 0}};
  std::printf("supervisor route: median of %d alternating runs (ns per call)\n", rounds);
  std::printf("%-14s %12s %12s %8s %8s\n", "call", "plain", "supervised", "ratio", "target");
  bool over = false;
  for (const Case& c : cases) {
    std::vector<double> plain, supervised;
    for (int round = 0; round < rounds; ++round) {
      const bool supervised_first = round % 2 == 1;
      for (bool under : {supervised_first, !supervised_first}) {
        (under ? supervised : plain).push_back(run_worker(argv[0], c.kind, c.count, under));
      }
    }
    const double ratio = median(supervised) / median(plain);
    std::printf("%-14s %12.1f %12.1f %8.3f %8s\n", c.kind, median(plain), median(supervised), ratio,
                c.target > 0 ? std::to_string(c.target).substr(0, 4).c_str() : "-");
    if (c.target > 0 && ratio > c.target) over = true;
  }
  return over ? 1 : 0;
}
