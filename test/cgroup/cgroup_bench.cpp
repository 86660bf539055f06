// What `kashim cgroup` costs a connection: the loopback connect+accept+close rate of one
// process (both ends its own, so both are tuned) in cgroups with different programs
// attached, alternated batch by batch in one run. Root only.
//
// A socket belongs to the cgroup its creator was in, so the process moves itself into an
// arm's cgroup before each batch: the arms differ only in the programs, not in the process,
// its caches or the load of another moment. The arms, each separating one cause:
//   no program            its own cgroup
//   empty ...             a sock_ops program, a cgroup/setsockopt program or both, returning
//                         at once: what the kernel's hooks cost (the loop's one setsockopt,
//                         SO_LINGER, passes through the second)
//   kashim, inactive      kashim's programs with KASHIM_DISABLE=1: they look, set nothing
//   kashim, keep-alive    kashim's programs switching SO_KEEPALIVE on, no other option
//   kashim, <settings>    kashim's programs with the KASHIM_* settings: the ratio measured
//   own SO_KEEPALIVE 0/1  no program; the process sets SO_KEEPALIVE on its listener and on
//                         each socket before connect: the same calls, with and without the
//                         keep-alive timer each connection then arms (the feature's own cost)
//   own setsockopt after  no program; both ends set the options after connect and accept
//                         with core's apply_keepalive, as the preload library would
// Each kashim arm is a real `kashim-cgroup cgroup run`. The ratio is judged per second of
// the process's CPU time, which includes the loopback's softirq work done in its context,
// so that other processes' load does not pass for cost — unless the kernel accounts IRQ
// time apart, then per second of the wall clock; both are printed. Prints each arm's median
// and its ratio to the first, and the ratio of kashim as configured with the spread of its
// per-round ratios and the target. Exit status 1 when it is below the target.
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_arms.hpp"
#include "config.hpp"
#include "decide.hpp"
#include "process_sources.hpp"

namespace {

using kashim::testing::EmptyPrograms;
using kashim::testing::KashimRun;

constexpr int kRounds = 31;
constexpr int kConnections = 4000;  // per batch
constexpr double kTarget = 0.97;

double seconds_now(clockid_t clock) {
  timespec now;
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Connections per second of the process's CPU time (its system calls and the loopback's
// softirq work, done in its context) and of the clock on the wall (which other processes'
// load also moves). Zero when a call failed.
struct Rates {
  double cpu = 0;
  double wall = 0;
};

// What the process does itself, without BPF.
struct OwnCalls {
  const kashim::Config* after = nullptr;  // both ends set these options once connected
  int keepalive_before = -1;  // >= 0: SO_KEEPALIVE to this on the listener (the accepted
                              // connections inherit it) and on each socket before connect
};

Rates measure(int connections, const OwnCalls& own) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("cgroup_bench: listen");
    return {};
  }
  const int keepalive = own.keepalive_before;
  if (keepalive >= 0) setsockopt(listener, SOL_SOCKET, SO_KEEPALIVE, &keepalive, sizeof keepalive);
  // An abortive close: no TIME_WAIT, so the run never runs out of ephemeral ports.
  const linger abort_on_close = {1, 0};
  const double start_cpu = seconds_now(CLOCK_THREAD_CPUTIME_ID);
  const double start_wall = seconds_now(CLOCK_MONOTONIC);
  for (int i = 0; i < connections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (keepalive >= 0) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, sizeof keepalive);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      std::perror("cgroup_bench: connect");
      return {};
    }
    if (own.after != nullptr) kashim::apply_keepalive(fd, *own.after, setsockopt);
    const int accepted = accept(listener, nullptr, nullptr);
    if (own.after != nullptr) kashim::apply_keepalive(accepted, *own.after, setsockopt);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close(fd);
    close(accepted);
  }
  const Rates rates = {connections / (seconds_now(CLOCK_THREAD_CPUTIME_ID) - start_cpu),
                       connections / (seconds_now(CLOCK_MONOTONIC) - start_wall)};
  close(listener);
  return rates;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Arm {
  std::string name;
  std::string cgroup;  // where the batch's sockets are created
  OwnCalls own;
  std::vector<double> cpu, wall;  // rates, batch by batch
};

// The settings as the arm's label says them.
std::string describe(const kashim::Config& config) {
  std::string text;
  const char* names[] = {"idle", "intvl", "cnt", "user-timeout"};
  for (std::size_t i = 0; i < std::size(kashim::kManagedTcpOptions); ++i) {
    const kashim::ManagedOption& option = config.*kashim::kManagedTcpOptions[i].option;
    if (option.set) text += std::string(" ") + names[i] + " " + std::to_string(option.value);
  }
  return text.empty() ? " keep-alive only" : text;
}

// Whether the kernel counts softirq work done in a task's context as the task's CPU time:
// not when it accounts IRQ time apart (CONFIG_IRQ_TIME_ACCOUNTING), and then the loopback's
// receive path would be missing from the CPU-time rates. Unknown counts as apart.
bool softirq_time_is_task_time() {
  utsname system{};
  uname(&system);
  const std::string plain = std::string("cat /boot/config-") + system.release;
  for (const std::string& command : {plain, std::string("zcat /proc/config.gz")}) {
    FILE* config = popen((command + " 2>/dev/null").c_str(), "r");
    if (config == nullptr) continue;
    bool found = false, apart = false;
    char line[256];
    while (std::fgets(line, sizeof line, config) != nullptr) {
      found = true;
      if (std::string(line).rfind("CONFIG_IRQ_TIME_ACCOUNTING=y", 0) == 0) apart = true;
    }
    pclose(config);
    if (found) return !apart;
  }
  return false;
}

// One CPU, the last: no migration between batches, and loopback's softirq work stays on it.
int pin_to_last_cpu() {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const int cpu = cpus > 1 ? static_cast<int>(cpus) - 1 : 0;
  cpu_set_t only;
  CPU_ZERO(&only);
  CPU_SET(cpu, &only);
  return sched_setaffinity(0, sizeof only, &only) == 0 ? cpu : -1;
}

// The arms' medians, each as a rate and as a ratio to the first arm's.
void print_arms(const std::vector<Arm>& arms, int cpu) {
  std::printf(
      "cgroup: loopback connect+accept+close, one process on CPU %d, %d rounds of %d "
      "connections per arm\n  %-46s %11s %6s %11s %6s\n",
      cpu, kRounds, kConnections, "arm (medians)", "per CPU s", "ratio", "per wall s", "ratio");
  const double none_cpu = median(arms[0].cpu), none_wall = median(arms[0].wall);
  for (const Arm& arm : arms) {
    std::printf("  %-46s %11.0f %6.3f %11.0f %6.3f\n", arm.name.c_str(), median(arm.cpu),
                median(arm.cpu) / none_cpu, median(arm.wall), median(arm.wall) / none_wall);
  }
}

// Every arm once per round, each round starting with the next arm, so that no arm always
// follows the same one. False when a batch failed.
bool run_rounds(std::vector<Arm>& arms) {
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t step = 0; step < arms.size(); ++step) {
      Arm& arm = arms[(round + step) % arms.size()];
      if (!kashim::testing::move_self_to(arm.cgroup)) return false;
      const Rates rates = measure(kConnections, arm.own);
      if (rates.cpu == 0) return false;
      arm.cpu.push_back(rates.cpu);
      arm.wall.push_back(rates.wall);
    }
  }
  return true;
}

int compare(const std::string& self) {
  kashim::Config config;
  kashim::parse_config(kashim::process_sources(), &config);
  if (!config.active) {
    std::fprintf(stderr, "cgroup_bench: the KASHIM_* settings are not active: %s\n",
                 std::string(config.error.view()).c_str());
    return 2;
  }
  const std::string parent = kashim::testing::own_cgroup_directory();
  const std::string tool = KASHIM_CGROUP_TOOL;
  EmptyPrograms sockops(parent, "sockops", EmptyPrograms::kSockOps);
  EmptyPrograms sockopt(parent, "setsockopt", EmptyPrograms::kSetsockopt);
  EmptyPrograms both(parent, "both", EmptyPrograms::kSockOps | EmptyPrograms::kSetsockopt);
  KashimRun inactive(tool, self, {{"KASHIM_DISABLE", "1"}});
  KashimRun keepalive(
      tool, self,
      {{"KASHIM_IDLE", ""}, {"KASHIM_INTVL", ""}, {"KASHIM_CNT", ""}, {"KASHIM_USER_TIMEOUT", ""}});
  KashimRun configured(tool, self, {});
  for (const EmptyPrograms* programs : {&sockops, &sockopt, &both}) {
    if (programs->error().empty()) continue;
    std::fprintf(stderr, "cgroup_bench: %s\n", programs->error().c_str());
    return 1;
  }
  if (inactive.cgroup().empty() || keepalive.cgroup().empty() || configured.cgroup().empty()) {
    std::fprintf(stderr, "cgroup_bench: a `kashim-cgroup cgroup run` did not start\n");
    return 1;
  }
  std::vector<Arm> arms = {
      {"no program", parent, {}, {}, {}},
      {"empty sock_ops program", sockops.cgroup(), {}, {}, {}},
      {"empty cgroup/setsockopt program", sockopt.cgroup(), {}, {}, {}},
      {"both empty programs", both.cgroup(), {}, {}, {}},
      {"kashim, inactive (KASHIM_DISABLE=1)", inactive.cgroup(), {}, {}, {}},
      {"kashim, keep-alive only", keepalive.cgroup(), {}, {}, {}},
      {"kashim," + describe(config), configured.cgroup(), {}, {}, {}},
      {"own SO_KEEPALIVE 0 before connect", parent, {nullptr, 0}, {}, {}},
      {"own SO_KEEPALIVE 1 before connect", parent, {nullptr, 1}, {}, {}},
      {"own setsockopt after," + describe(config), parent, {&config, -1}, {}, {}},
  };
  const Arm &none = arms[0], &tuned = arms[6], &calls_only = arms[7], &timers = arms[8];
  const int cpu = pin_to_last_cpu();
  const bool measured = run_rounds(arms);
  kashim::testing::move_self_to(parent);  // out of the runs' cgroups before they are removed
  if (!measured) {
    std::fprintf(stderr, "cgroup_bench: a batch failed (cannot move into a cgroup?)\n");
    return 1;
  }
  print_arms(arms, cpu);
  // Judged on CPU time where it holds all the work, else on the wall clock.
  const bool by_cpu = softirq_time_is_task_time();
  const std::vector<double> Arm::*rates = by_cpu ? &Arm::cpu : &Arm::wall;
  std::printf("  the keep-alive timers alone (SO_KEEPALIVE 1 / 0): %.3f\n",
              median(timers.*rates) / median(calls_only.*rates));
  std::vector<double> ratios;  // kashim as configured / no program, round by round
  for (int round = 0; round < kRounds; ++round) {
    ratios.push_back((tuned.*rates)[round] / (none.*rates)[round]);
  }
  const double ratio = median(tuned.*rates) / median(none.*rates);
  std::printf("  ratio per %s %.3f (rounds %.3f..%.3f), target >= %.2f: %s\n",
              by_cpu ? "CPU second" : "wall second (IRQ time is not the task's here)", ratio,
              *std::min_element(ratios.begin(), ratios.end()),
              *std::max_element(ratios.begin(), ratios.end()), kTarget,
              ratio >= kTarget ? "met" : "NOT met");
  return ratio >= kTarget ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--hold") return kashim::testing::hold_cgroup();
  if (geteuid() != 0) {
    std::fprintf(stderr, "cgroup_bench: needs root (kashim cgroup loads BPF programs)\n");
    return 1;
  }
  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) return 1;
  return compare(self);
}
