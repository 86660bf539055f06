// kashim_bench: what the shim costs, as ratios measured in one run.
//
// Runs with libkashim.so preloaded (scripts/bench sets it up). Calling socket() goes through
// the shim; libc's own functions, found with dlopen("libc.so.6", RTLD_NOLOAD), are the same
// calls without it. Each scenario alternates its two variants round by round, and every
// ratio is the median of the per-round ratios, so that drift in the machine's speed cancels
// out; the spread is their 25th to 75th percentile.
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern char** environ;
// test/bench/forwarder.c
extern "C" int kashim_bench_forwarding_setsockopt(int fd, int level, int optname,
                                                  const void* optval, socklen_t optlen);
extern "C" int kashim_bench_answer_checking_setsockopt(int fd, int level, int optname,
                                                       const void* optval, socklen_t optlen);

namespace {

struct Libc {
  decltype(&::socket) socket;
  decltype(&::setsockopt) setsockopt;
  decltype(&::connect) connect;
  decltype(&::accept) accept;
};

Libc g_libc;
int g_keepalive[4] = {30, 5, 3, 0};  // idle, intvl, cnt; user timeout unset
bool g_failed = false;

double now_ns() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  double position = p * (values.size() - 1);
  std::size_t below = static_cast<std::size_t>(position);
  std::size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (values[above] - values[below]) * (position - below);
}

struct Comparison {
  double a_ns, b_ns;        // medians per operation
  double ratio, low, high;  // median per-round ratio a/b and its 25th..75th percentile
};

// Alternates a and b (each a batch of `operations`), `rounds` times, a first on even rounds.
Comparison compare(const std::function<void()>& a, const std::function<void()>& b, int operations,
                   int rounds) {
  std::vector<double> a_times, b_times, ratios;
  a();  // warm up: first-use resolution, page faults
  b();
  for (int round = 0; round < rounds; ++round) {
    double times[2];
    for (int turn = 0; turn < 2; ++turn) {
      bool run_a = (turn == 0) == (round % 2 == 0);
      double start = now_ns();
      (run_a ? a : b)();
      times[run_a ? 0 : 1] = (now_ns() - start) / operations;
    }
    a_times.push_back(times[0]);
    b_times.push_back(times[1]);
    ratios.push_back(times[0] / times[1]);
  }
  return {percentile(a_times, 0.5), percentile(b_times, 0.5), percentile(ratios, 0.5),
          percentile(ratios, 0.25), percentile(ratios, 0.75)};
}

void report(const char* name, const char* a, const char* b, const Comparison& c, double target) {
  char verdict[32] = "(no target)";
  if (target > 0) {
    bool within = c.ratio <= target;
    if (!within) g_failed = true;
    snprintf(verdict, sizeof verdict, "%s %.2f %s", within ? "<=" : ">", target,
             within ? "ok" : "OVER");
  }
  printf("%-44s %9.0f ns %9.0f ns   %.3f  [%.3f, %.3f]   %s\n", name, c.a_ns, c.b_ns, c.ratio,
         c.low, c.high, verdict);
  printf("  A: %s; B: %s\n", a, b);
}

void set_keepalive_by_hand(int fd) {
  int on = 1;
  g_libc.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  g_libc.setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &g_keepalive[0], sizeof(int));
  g_libc.setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &g_keepalive[1], sizeof(int));
  g_libc.setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &g_keepalive[2], sizeof(int));
}

constexpr int kOps = 500;
constexpr int kRounds = 301;

// Single-threaded scenarios run pinned to one CPU, so that a migration does not land in one
// variant's batch; the threaded one runs free.
cpu_set_t g_all_cpus;
void pin_to_one_cpu() {
  sched_getaffinity(0, sizeof g_all_cpus, &g_all_cpus);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  sched_setaffinity(0, sizeof one, &one);
}
void unpin() {
  sched_setaffinity(0, sizeof g_all_cpus, &g_all_cpus);
}

void scenario_tcp_socket() {
  auto shim = [] {
    for (int i = 0; i < kOps; ++i) close(socket(AF_INET, SOCK_STREAM, 0));
  };
  auto by_hand = [] {
    for (int i = 0; i < kOps; ++i) {
      int fd = g_libc.socket(AF_INET, SOCK_STREAM, 0);
      set_keepalive_by_hand(fd);
      close(fd);
    }
  };
  report("1. TCP socket()+close(), tuned", "shim", "the same setsockopt calls by hand",
         compare(shim, by_hand, kOps, kRounds), 1.02);
}

void scenario_untouched_sockets() {
  for (int domain : {AF_INET, AF_UNIX}) {
    int type = domain == AF_INET ? SOCK_DGRAM : SOCK_STREAM;
    auto shim = [=] {
      for (int i = 0; i < kOps; ++i) close(socket(domain, type, 0));
    };
    auto plain = [=] {
      for (int i = 0; i < kOps; ++i) close(g_libc.socket(domain, type, 0));
    };
    report(domain == AF_INET ? "2. UDP socket()+close()" : "2. AF_UNIX socket()+close()", "shim",
           "no shim", compare(shim, plain, kOps, kRounds), 1.01);
  }
}

// One connect+accept+close cycle on loopback; RST on close so that no TIME_WAIT piles up.
void connect_accept_cycle(int listener, const sockaddr_in& address, bool through_shim) {
  int client =
      through_shim ? socket(AF_INET, SOCK_STREAM, 0) : g_libc.socket(AF_INET, SOCK_STREAM, 0);
  if ((through_shim ? connect : g_libc.connect)(client, reinterpret_cast<const sockaddr*>(&address),
                                                sizeof address) != 0) {
    perror("connect");
    exit(1);
  }
  int server = (through_shim ? accept : g_libc.accept)(listener, nullptr, nullptr);
  linger abort_on_close{1, 0};
  g_libc.setsockopt(client, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  close(client);
  close(server);
}

int loopback_listener(bool through_shim, sockaddr_in* address) {
  int fd = through_shim ? socket(AF_INET, SOCK_STREAM, 0) : g_libc.socket(AF_INET, SOCK_STREAM, 0);
  *address = {};
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof *address;
  if (bind(fd, reinterpret_cast<sockaddr*>(address), length) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(address), &length) != 0) {
    perror("listener");
    exit(1);
  }
  return fd;
}

void scenario_connect_accept(double setsockopt_ns) {
  constexpr int kCycles = 300;
  sockaddr_in shim_address, plain_address;
  int shim_listener = loopback_listener(true, &shim_address);
  int plain_listener = loopback_listener(false, &plain_address);
  Comparison c = compare(
      [&] {
        for (int i = 0; i < kCycles; ++i) connect_accept_cycle(shim_listener, shim_address, true);
      },
      [&] {
        for (int i = 0; i < kCycles; ++i)
          connect_accept_cycle(plain_listener, plain_address, false);
      },
      kCycles, kRounds);
  report("3. loopback connect+accept+close, both ends", "shim", "no shim", c, 0);
  printf("  the connecting side's 4 setsockopt calls alone would give %.3f\n",
         (c.b_ns + 4 * setsockopt_ns) / c.b_ns);
  close(shim_listener);
  close(plain_listener);
}

// libuv's way: its interval (1 s, replaced by the configured 5) in a local variable of the
// function that calls setsockopt, as most programs pass a value.
template <typename SetsockoptFn>
__attribute__((noinline)) int set_interval_as_libuv(SetsockoptFn set, int fd) {
  int interval = 1;
  return set(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
}

void scenario_forced_setsockopt() {
  int fd = g_libc.socket(AF_INET, SOCK_STREAM, 0);
  auto shim = [&] {
    for (int i = 0; i < kOps; ++i) set_interval_as_libuv(::setsockopt, fd);
  };
  auto forwarder = [&] {
    for (int i = 0; i < kOps; ++i) set_interval_as_libuv(kashim_bench_forwarding_setsockopt, fd);
  };
  report("4. setsockopt(TCP_KEEPINTVL), force mode", "shim (value replaced)", "forwarding hook",
         compare(shim, forwarder, kOps, kRounds), 1.01);
  // The floor of any hook that can answer a refused value with the program's own call: it must
  // see libc's answer, so it returns to its own code before the program (doc/performance.md).
  auto answer_checking = [&] {
    for (int i = 0; i < kOps; ++i) {
      set_interval_as_libuv(kashim_bench_answer_checking_setsockopt, fd);
    }
  };
  report("   a hook that looks at libc's answer", "answer-checking hook", "forwarding hook",
         compare(answer_checking, forwarder, kOps, kRounds), 0);
  report("   the shim against that floor", "shim (value replaced)", "answer-checking hook",
         compare(shim, answer_checking, kOps, kRounds), 1.01);
  // A value kashim cannot read without risk (not on the hook's stack page): the program's
  // call, then the operator's value. Shown, with no target.
  static int far_interval = 1;
  auto far = [&] {
    for (int i = 0; i < kOps; ++i) {
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &far_interval, sizeof far_interval);
    }
  };
  report("   the value in static memory", "shim (two calls)", "forwarding hook",
         compare(far, forwarder, kOps, kRounds), 0);
  close(fd);
}

double setsockopt_cost_ns() {
  int fd = g_libc.socket(AF_INET, SOCK_STREAM, 0);
  std::vector<double> samples;
  for (int round = 0; round < kRounds; ++round) {
    double start = now_ns();
    for (int i = 0; i < kOps; ++i) set_keepalive_by_hand(fd);
    samples.push_back((now_ns() - start) / (4.0 * kOps));
  }
  close(fd);
  return percentile(samples, 0.5);
}

// Scenario 5: what a preloaded library costs a process that opens no socket. Every library is
// measured against an empty preloaded library in the same run, so that the loader's own cost
// of LD_PRELOAD (shown apart, against no preload) cancels out. The arms take turns spawn by
// spawn, in a new random order each turn, so that a change in the machine's speed lands on all
// of them alike and no arm always follows the same one. A round is 300 spawns per arm; each arm's
// time in it is the median spawn, not the mean, because on a shared machine a few spawns that lose
// the CPU to another process outweigh a cost of tens of microseconds; each round gives one ratio
// per library.
struct StartArm {
  std::string name, path;                // path empty: no preload at all
  std::string variable;                  // LD_PRELOAD, or LD_AUDIT for the wrapper's audit module
  int base;                              // the arm it is measured against: -1 for no preload
  std::vector<std::string> environment;  // [0] names this round's copy, when there is a path
  std::vector<char*> envp;
  std::string copy;                                    // this round's
  std::vector<double> per_start_ns, ratios, added_ns;  // one per round
};

double spawn_and_wait_ns(StartArm& arm) {
  char program[] = "/bin/true";
  char* argv[] = {program, nullptr};
  double start = now_ns();
  pid_t pid;
  if (posix_spawn(&pid, program, nullptr, nullptr, argv, arm.envp.data()) != 0) {
    perror("posix_spawn");
    exit(1);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "kashim_bench: /bin/true failed with %s\n", arm.name.c_str());
    exit(1);
  }
  return now_ns() - start;
}

// The loader does not fail when a preloaded library cannot be loaded: it says so on stderr and
// goes on, which would measure nothing. So each arm starts once with its stderr read.
void require_silent_start(const StartArm& arm) {
  int out[2];
  if (pipe(out) != 0) {
    perror("pipe");
    exit(1);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  char program[] = "/bin/true";
  char* argv[] = {program, nullptr};
  pid_t pid;
  int failed = posix_spawn(&pid, program, &actions, nullptr, argv, arm.envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  char said[512] = "";
  ssize_t length = failed == 0 ? read(out[0], said, sizeof said - 1) : 0;
  close(out[0]);
  if (length > 0 && said[length - 1] == '\n') said[length - 1] = '\0';
  int status = 0;
  if (failed == 0) waitpid(pid, &status, 0);
  if (failed != 0 || length != 0 || status != 0) {
    fprintf(stderr, "kashim_bench: /bin/true with %s did not start cleanly: %s\n", arm.name.c_str(),
            length > 0 ? said : strerror(failed));
    exit(2);
  }
}

// "parent/file.so": enough to tell apart two libraries of the same file name.
std::string short_name(const std::string& path) {
  std::size_t file = path.rfind('/');
  std::size_t parent = file == 0 || file == std::string::npos ? 0 : path.rfind('/', file - 1);
  return path.substr(parent == std::string::npos ? 0 : parent + 1);
}

// Every library is measured from a copy written whole into a directory of the benchmark's
// own, as an installed library is written (install, dpkg). What the loader pays for mapping
// a library depends on how its file sits in the page cache: a file a linker has just written
// sits there in single pages, a file written whole (or read back after a reboot) in larger
// blocks, and the loader's page faults map the latter in fewer steps. The same
// libkashim.so measured 1.011 from its build directory and 1.004 from a copy; copying every
// arm compares the libraries, not the ways their files were written. Even copies written
// alike differ: two copies of the empty library measured 0.995 to 1.006 of each other, the
// same pair the same way through a run. So every round measures fresh copies, and the
// rounds' median is not one copy's luck.
std::string installed_copy(const std::string& path, const std::string& directory, int round,
                           int index) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string copy = directory + "/" + std::to_string(round) + "-" + std::to_string(index) + "-" +
                     path.substr(path.rfind('/') + 1);
  std::ofstream out(copy, std::ios::binary);
  out.rdbuf()->pubsetbuf(nullptr, 0);  // one write of the whole file
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!in || bytes.empty() || !out) {
    fprintf(stderr, "kashim_bench: could not copy %s to %s\n", path.c_str(), copy.c_str());
    exit(2);
  }
  return copy;
}

// The arm's library, copied afresh for `round`; the previous round's copy removed.
void copy_for_round(StartArm* arm, const std::string& directory, int round, int index) {
  if (arm->path.empty()) return;
  if (!arm->copy.empty()) unlink(arm->copy.c_str());
  arm->copy = installed_copy(arm->path, directory, round, index);
  arm->environment[0] = arm->variable + "=" + arm->copy;
  arm->envp[0] = arm->environment[0].data();
}

void scenario_process_start(const char* kashim, const std::vector<std::string>& others) {
  constexpr int kStartsPerArm = 300, kRounds = 7;
  char directory[] = "/tmp/kashim-bench-XXXXXX";
  if (mkdtemp(directory) == nullptr) {
    perror("mkdtemp");
    exit(2);
  }
  std::vector<std::string> inherited;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (strncmp(*entry, "LD_PRELOAD=", 11) != 0) inherited.push_back(*entry);
  }
  // [0] the empty library, [last] no preload. The wrapper also sets LD_AUDIT (the audit
  // module): it is measured against an empty audit module, and that one against no preload.
  std::vector<StartArm> arms;
  auto add_arm = [&](const std::string& name, const std::string& path, const char* variable,
                     int base) {
    StartArm arm{name, path, variable, base, {}, {}, {}, {}, {}, {}};
    if (!path.empty()) arm.environment.push_back("");  // copy_for_round() names the copy
    arm.environment.insert(arm.environment.end(), inherited.begin(), inherited.end());
    arms.push_back(std::move(arm));
    return static_cast<int>(arms.size()) - 1;
  };
  add_arm("empty library", KASHIM_BENCH_EMPTY, "LD_PRELOAD", -1);
  add_arm("libkashim.so", kashim, "LD_PRELOAD", 0);
  const int start_checks =
      add_arm("its start checks alone", KASHIM_BENCH_START_CHECKS, "LD_PRELOAD", 0);
  const int empty_as_shim =
      add_arm("an empty library linked as it is", KASHIM_BENCH_EMPTY_AS_SHIM, "LD_PRELOAD", 0);
  for (const std::string& path : others) add_arm(short_name(path), path, "LD_PRELOAD", 0);
  const int empty_audit = add_arm("empty audit module", KASHIM_BENCH_EMPTY_AUDIT, "LD_AUDIT", -1);
  add_arm("libkashim-audit.so", KASHIM_BENCH_AUDIT, "LD_AUDIT", empty_audit);
  add_arm("no preload", "", "", -1);
  for (StartArm& arm : arms) {
    for (std::string& entry : arm.environment) arm.envp.push_back(entry.data());
    arm.envp.push_back(nullptr);
  }
  const int n = static_cast<int>(arms.size());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 shuffler(15);  // the same sequence of turns in every run
  pin_to_one_cpu();           // the children inherit it: no migration lands in one arm's spawns
  for (int round = 0; round < kRounds; ++round) {
    for (int arm = 0; arm < n; ++arm) {
      copy_for_round(&arms[arm], directory, round, arm);
      require_silent_start(arms[arm]);  // also warms up: page cache, the loader's cache
    }
    std::vector<std::vector<double>> times(n);
    for (int i = 0; i < kStartsPerArm; ++i) {
      std::shuffle(order.begin(), order.end(), shuffler);
      for (int arm : order) times[arm].push_back(spawn_and_wait_ns(arms[arm]));
    }
    std::vector<double> median(n);
    for (int arm = 0; arm < n; ++arm) median[arm] = percentile(times[arm], 0.5);
    for (int arm = 0; arm < n; ++arm) {
      const int base = arms[arm].base >= 0 ? arms[arm].base : n - 1;
      arms[arm].per_start_ns.push_back(median[arm]);
      arms[arm].ratios.push_back(median[arm] / median[base]);
      arms[arm].added_ns.push_back(median[arm] - median[base]);
    }
  }
  unpin();
  printf(
      "5. start /bin/true: %d rounds of %d spawns per arm, arms taking turns; A, B: the median\n"
      "   spawn; A/B: the median of the rounds' ratios\n",
      kRounds, kStartsPerArm);
  auto line = [&](const std::string& name, const StartArm& a, const StartArm& b,
                  const std::string& a_label, double target) {
    Comparison c{percentile(a.per_start_ns, 0.5), percentile(b.per_start_ns, 0.5),
                 percentile(a.ratios, 0.5), percentile(a.ratios, 0.25), percentile(a.ratios, 0.75)};
    report(("   " + name).c_str(), a_label.c_str(),
           b.path.empty()             ? "no preload"
           : b.variable == "LD_AUDIT" ? "an empty audit module"
                                      : "an empty library preloaded",
           c, target);
    std::string rounds;
    for (double ratio : a.ratios) rounds += " " + std::to_string(ratio).substr(0, 5);
    printf("  %+.1f us per start (median of the rounds); the rounds' ratios:%s\n",
           percentile(a.added_ns, 0.5) / 1000, rounds.c_str());
  };
  for (int arm = 1; arm < n - 1; ++arm) {
    if (arms[arm].base < 0) continue;
    struct stat info {};
    stat(arms[arm].path.c_str(), &info);
    std::string label =
        arms[arm].variable + "=" + arms[arm].path + " (" + std::to_string(info.st_size) + " bytes)";
    line(arms[arm].name, arms[arm], arms[arms[arm].base], label, arm == 1 ? 1.01 : 0);
  }
  // libkashim.so against two floors, round by round, both linked and laid out as it is
  // (doc/performance.md): an empty library, and one that makes only the system calls kashim's
  // constructor cannot do without. The first says what the library costs beyond its layout,
  // the second what it costs beyond the system calls its guarantees need.
  auto against = [&](const char* name, const StartArm& floor, const char* floor_label) {
    std::vector<double> ratios;
    for (std::size_t round = 0; round < floor.per_start_ns.size(); ++round) {
      ratios.push_back(arms[1].per_start_ns[round] / floor.per_start_ns[round]);
    }
    report(name, "libkashim.so", floor_label,
           Comparison{percentile(arms[1].per_start_ns, 0.5), percentile(floor.per_start_ns, 0.5),
                      percentile(ratios, 0.5), percentile(ratios, 0.25), percentile(ratios, 0.75)},
           0);
  };
  against("   libkashim.so against its layout, empty", arms[empty_as_shim],
          "an empty library linked as libkashim.so is");
  against("   libkashim.so against its start checks", arms[start_checks],
          "an empty library making the same 3 start system calls");
  line("the loader's own cost of LD_PRELOAD", arms[0], arms[n - 1], "an empty library preloaded",
       0);
  line("the loader's own cost of LD_AUDIT", arms[empty_audit], arms[n - 1], "an empty audit module",
       0);
  printf(
      "  each library measured from copies in %s (written whole, as when installed;\n"
      "  fresh ones every round)\n",
      directory);
  for (StartArm& arm : arms) {
    if (!arm.copy.empty()) unlink(arm.copy.c_str());
  }
  rmdir(directory);
  printf("  %s mapped in this process:\n", kashim);
  std::ifstream maps("/proc/self/maps");
  for (std::string entry; std::getline(maps, entry);) {
    if (entry.find("libkashim.so") == std::string::npos) continue;
    unsigned long from, to;
    char permissions[5];
    sscanf(entry.c_str(), "%lx-%lx %4s", &from, &to, permissions);
    printf("    %s %6lu KiB\n", permissions, (to - from) / 1024);
  }
}

void scenario_threads() {
  constexpr int kThreads = 8, kPerThread = 500;
  auto in_threads = [](bool through_shim) {
    return [through_shim] {
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([through_shim] {
          for (int i = 0; i < kPerThread; ++i) {
            if (through_shim) {
              close(socket(AF_INET, SOCK_STREAM, 0));
            } else {
              int fd = g_libc.socket(AF_INET, SOCK_STREAM, 0);
              set_keepalive_by_hand(fd);
              close(fd);
            }
          }
        });
      }
      for (auto& thread : threads) thread.join();
    };
  };
  report("6. 8 threads: TCP socket()+close(), tuned", "shim", "the same calls by hand",
         compare(in_threads(true), in_threads(false), kThreads * kPerThread, 61), 1.02);
}

}  // namespace

// Scenario numbers on the command line run only those (all of them when none is given);
// "--against PATH" adds a library to scenario 5's comparison.
bool wanted(int argc, char** argv, int scenario) {
  bool any = false;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--against") == 0) {
      ++i;
    } else {
      any = true;
      if (atoi(argv[i]) == scenario) return true;
    }
  }
  return !any;
}

std::vector<std::string> libraries_against(int argc, char** argv) {
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--against") != 0) continue;
    struct stat info {};
    if (i + 1 >= argc || argv[i + 1][0] != '/' || stat(argv[i + 1], &info) != 0 ||
        !S_ISREG(info.st_mode)) {
      fprintf(stderr, "kashim_bench: --against takes the absolute path of a shared library%s%s\n",
              i + 1 < argc ? ", not " : "", i + 1 < argc ? argv[i + 1] : "");
      exit(2);
    }
    paths.push_back(argv[++i]);
  }
  return paths;
}

int main(int argc, char** argv) {
  const char* preload = getenv("LD_PRELOAD");
  if (preload == nullptr || strstr(preload, "libkashim.so") == nullptr) {
    fprintf(stderr, "kashim_bench: run it with libkashim.so in LD_PRELOAD (scripts/bench does)\n");
    return 2;
  }
  void* libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
  if (libc == nullptr) {
    fprintf(stderr, "kashim_bench: libc.so.6 is not loaded: %s\n", dlerror());
    return 2;
  }
  g_libc = {reinterpret_cast<decltype(&::socket)>(dlsym(libc, "socket")),
            reinterpret_cast<decltype(&::setsockopt)>(dlsym(libc, "setsockopt")),
            reinterpret_cast<decltype(&::connect)>(dlsym(libc, "connect")),
            reinterpret_cast<decltype(&::accept)>(dlsym(libc, "accept"))};
  if (reinterpret_cast<void*>(g_libc.socket) == reinterpret_cast<void*>(&socket)) {
    fprintf(stderr, "kashim_bench: socket() is libc's own: the shim is not in front of it\n");
    return 2;
  }
  std::vector<std::string> against = libraries_against(argc, argv);
  printf("%-44s %12s %12s   %-6s %-16s %s\n", "scenario", "A", "B", "A/B", "[p25, p75]", "target");
  pin_to_one_cpu();
  double setsockopt_ns = setsockopt_cost_ns();
  if (wanted(argc, argv, 1)) scenario_tcp_socket();
  if (wanted(argc, argv, 2)) scenario_untouched_sockets();
  if (wanted(argc, argv, 3)) scenario_connect_accept(setsockopt_ns);
  if (wanted(argc, argv, 4)) scenario_forced_setsockopt();
  unpin();
  if (wanted(argc, argv, 5)) scenario_process_start(preload, against);
  if (wanted(argc, argv, 6)) scenario_threads();
  printf("\nphysical limit: one setsockopt() call costs %.0f ns here; a tuned socket needs 4\n",
         setsockopt_ns);
  return g_failed ? 1 : 0;
}
