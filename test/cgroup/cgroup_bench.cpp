// What `kashim cgroup` costs a connection: the loopback connect+accept+close rate of one
// process (both ends its own, so both are tuned) in cgroups with different programs
// attached, alternated batch by batch in one run. Root only.
//
// A socket belongs to the cgroup its creator was in, so the process moves itself into an
// arm's cgroup before each batch: the arms differ only in the programs, not in the process,
// its caches or the load of another moment. Each round measures first the arms without
// BPF while nothing is attached anywhere (programs on any cgroup switch the kernel's hooks
// on for every socket), then attaches every arm's programs and measures the others:
//   no program, nothing attached   the reference: every ratio is to it
//   own SO_KEEPALIVE 0 / 1         the process sets SO_KEEPALIVE on its listener and on each
//                                  socket before connect: the same calls, without and with
//                                  the keep-alive timer each connection then arms (the
//                                  feature's own cost, whoever switches it on)
//   own setsockopt after           both ends set the options after connect and accept with
//                                  core's apply_keepalive, as the preload library would
//   no program, programs elsewhere what every other process pays while kashim is attached
//   empty ...                      a sock_ops program, a cgroup/setsockopt program or both,
//                                  returning at once: the hooks' own cost (the loop's one
//                                  setsockopt, SO_LINGER, passes through the second)
//   kashim, inactive               kashim's programs, KASHIM_DISABLE=1: they look, set nothing
//   kashim, keep-alive only        kashim's programs switching SO_KEEPALIVE on, no option
//   kashim, <settings>             kashim's programs with the KASHIM_* settings: the ratio
// Each kashim arm is a real `kashim-cgroup cgroup run`. The ratio is judged per second of
// the process's CPU time, which includes the loopback's softirq work done in its context,
// so that other processes' load does not pass for cost — unless the kernel accounts IRQ
// time apart, then per second of the wall clock; both are printed. Prints each arm's median
// and its ratio to the reference, and the ratio of kashim as configured with the spread of
// its per-round ratios and the target. Exit status 1 when it is below the target.
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_arms.hpp"
#include "bench_loop.hpp"
#include "config.hpp"
#include "decide.hpp"
#include "process_sources.hpp"

namespace {

using kashim::testing::Attachments;
using kashim::testing::measure_connections;
using kashim::testing::OwnCalls;
using kashim::testing::Rates;

constexpr int kRounds = 31;
constexpr int kConnections = 4000;  // per batch
constexpr double kTarget = 0.97;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Arm {
  std::string name;
  bool attached;  // measured while the round's attachments exist, else while nothing is
  const std::string& (*cgroup_of)(const Attachments&);  // where its sockets are; null: ours
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

// The arms of one phase of a round, each round starting with the next arm, so that no arm
// always follows the same one. False when a batch failed.
bool run_phase(std::vector<Arm>& arms, bool attached, int round, const Attachments* attachments,
               const std::string& parent) {
  std::vector<Arm*> phase;
  for (Arm& arm : arms) {
    if (arm.attached == attached) phase.push_back(&arm);
  }
  for (std::size_t step = 0; step < phase.size(); ++step) {
    Arm& arm = *phase[(round + step) % phase.size()];
    const std::string& cgroup = arm.cgroup_of ? arm.cgroup_of(*attachments) : parent;
    if (!kashim::testing::move_self_to(cgroup)) return false;
    const Rates rates = measure_connections(kConnections, arm.own);
    if (rates.cpu == 0) return false;
    arm.cpu.push_back(rates.cpu);
    arm.wall.push_back(rates.wall);
  }
  return true;
}

// Each round: the arms measured with nothing attached, then those measured with every
// cgroup's programs attached. Returns "" or what failed.
std::string run_rounds(std::vector<Arm>& arms, const std::string& parent, const std::string& tool,
                       const std::string& self) {
  for (int round = 0; round < kRounds; ++round) {
    if (!kashim::testing::move_self_to(parent)) return "cannot move into " + parent;
    // Unmeasured: what the last detachment leaves the kernel to do (freeing the programs
    // after a grace period) is done here rather than in a batch without programs.
    measure_connections(kConnections / 4, {});
    if (!run_phase(arms, false, round, nullptr, parent)) return "a batch failed";
    const Attachments attachments(parent, tool, self);
    if (!attachments.error().empty()) return attachments.error();
    const bool measured = run_phase(arms, true, round, &attachments, parent);
    kashim::testing::move_self_to(parent);  // out of the cgroups before they are removed
    if (!measured) return "a batch failed (cannot move into a cgroup?)";
  }
  return "";
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
  using Of = const Attachments&;
  std::vector<Arm> arms = {
      {"no program, nothing attached anywhere", false, nullptr, {}, {}, {}},
      {"no program, programs on other cgroups", true, nullptr, {}, {}, {}},
      {"empty sock_ops program",
       true,
       [](Of a) -> const std::string& { return a.sockops.cgroup(); },
       {},
       {},
       {}},
      {"empty cgroup/setsockopt program",
       true,
       [](Of a) -> const std::string& { return a.setsockopt.cgroup(); },
       {},
       {},
       {}},
      {"both empty programs",
       true,
       [](Of a) -> const std::string& { return a.both.cgroup(); },
       {},
       {},
       {}},
      {"kashim, inactive (KASHIM_DISABLE=1)",
       true,
       [](Of a) -> const std::string& { return a.inactive.cgroup(); },
       {},
       {},
       {}},
      {"kashim, keep-alive only",
       true,
       [](Of a) -> const std::string& { return a.keepalive.cgroup(); },
       {},
       {},
       {}},
      {"kashim," + describe(config),
       true,
       [](Of a) -> const std::string& { return a.configured.cgroup(); },
       {},
       {},
       {}},
      {"own SO_KEEPALIVE 0 before connect", false, nullptr, {nullptr, 0}, {}, {}},
      {"own SO_KEEPALIVE 1 before connect", false, nullptr, {nullptr, 1}, {}, {}},
      {"own setsockopt after," + describe(config), false, nullptr, {&config, -1}, {}, {}},
  };
  const Arm &none = arms[0], &setsockopt_hook = arms[3], &both_hooks = arms[4], &tuned = arms[7],
            &calls_only = arms[8], &timers = arms[9];
  const int cpu = pin_to_last_cpu();
  const std::string failure = run_rounds(arms, parent, KASHIM_CGROUP_TOOL, self);
  if (!failure.empty()) {
    std::fprintf(stderr, "cgroup_bench: %s\n", failure.c_str());
    return 1;
  }
  print_arms(arms, cpu);
  // Judged on CPU time where it holds all the work, else on the wall clock.
  const bool by_cpu = softirq_time_is_task_time();
  const std::vector<double> Arm::*rates = by_cpu ? &Arm::cpu : &Arm::wall;
  const double timers_alone = median(timers.*rates) / median(calls_only.*rates);
  std::printf("  the keep-alive timers alone (SO_KEEPALIVE 1 / 0): %.3f\n", timers_alone);
  // What no program can go below: force mode needs the setsockopt hook (every setsockopt of
  // the cgroup passes through it, the loop's SO_LINGER too), and a tuned connection arms the
  // keep-alive timer at both ends, whoever switches it on.
  std::printf(
      "  floor, before a program does anything: the empty cgroup/setsockopt program x the timers"
      " %.3f; both empty programs x the timers %.3f\n",
      median(setsockopt_hook.*rates) / median(none.*rates) * timers_alone,
      median(both_hooks.*rates) / median(none.*rates) * timers_alone);
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
