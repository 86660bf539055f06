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
#include <string>
#include <thread>
#include <vector>

extern char** environ;

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

void scenario_forced_setsockopt() {
  int fd = g_libc.socket(AF_INET, SOCK_STREAM, 0);
  int program_value = 1;  // libuv's interval, replaced by the configured 5
  auto shim = [&] {
    for (int i = 0; i < kOps; ++i) {
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &program_value, sizeof program_value);
    }
  };
  auto plain = [&] {
    for (int i = 0; i < kOps; ++i) {
      g_libc.setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &program_value, sizeof program_value);
    }
  };
  report("4. setsockopt(TCP_KEEPINTVL), force mode", "shim (value replaced)", "plain setsockopt",
         compare(shim, plain, kOps, kRounds), 1.01);
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

void spawn_and_wait(const char* program, char** environment) {
  pid_t pid;
  char* argv[] = {const_cast<char*>(program), nullptr};
  if (posix_spawn(&pid, program, nullptr, nullptr, argv, environment) != 0) {
    perror("posix_spawn");
    exit(1);
  }
  int status;
  waitpid(pid, &status, 0);
}

void scenario_process_start(const char* library) {
  std::vector<std::string> plain_env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (strncmp(*entry, "LD_PRELOAD=", 11) != 0) plain_env.push_back(*entry);
  }
  auto with_preload = [&](const char* path) {
    std::vector<std::string> environment = plain_env;
    environment.push_back(std::string("LD_PRELOAD=") + path);
    return environment;
  };
  std::vector<std::string> shim_env = with_preload(library),
                           empty_env = with_preload(KASHIM_BENCH_EMPTY);
  auto pointers = [](std::vector<std::string>& strings) {
    std::vector<char*> result;
    for (auto& s : strings) result.push_back(s.data());
    result.push_back(nullptr);
    return result;
  };
  std::vector<char*> plain = pointers(plain_env), shim = pointers(shim_env),
                     empty = pointers(empty_env);
  constexpr int kStarts = 20;
  auto starts = [&](std::vector<char*>& environment) {
    return [&] {
      for (int i = 0; i < kStarts; ++i) spawn_and_wait("/bin/true", environment.data());
    };
  };
  report("5. start /bin/true", "LD_PRELOAD=libkashim.so", "no preload",
         compare(starts(shim), starts(plain), kStarts, 31), 1.05);
  report("   the loader's own cost of LD_PRELOAD", "an empty library preloaded", "no preload",
         compare(starts(empty), starts(plain), kStarts, 31), 0);
  report("   what libkashim.so adds to that", "LD_PRELOAD=libkashim.so",
         "an empty library preloaded", compare(starts(shim), starts(empty), kStarts, 31), 1.05);
  struct stat info {};
  stat(library, &info);
  printf("  %s: %lld bytes on disk; mapped in a process:\n", library,
         static_cast<long long>(info.st_size));
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("libkashim.so") == std::string::npos) continue;
    unsigned long from, to;
    char permissions[5];
    sscanf(line.c_str(), "%lx-%lx %4s", &from, &to, permissions);
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

// Scenario numbers on the command line run only those (all of them by default).
bool wanted(int argc, char** argv, int scenario) {
  if (argc < 2) return true;
  for (int i = 1; i < argc; ++i) {
    if (atoi(argv[i]) == scenario) return true;
  }
  return false;
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
  printf("%-44s %12s %12s   %-6s %-16s %s\n", "scenario", "A", "B", "A/B", "[p25, p75]", "target");
  pin_to_one_cpu();
  double setsockopt_ns = setsockopt_cost_ns();
  if (wanted(argc, argv, 1)) scenario_tcp_socket();
  if (wanted(argc, argv, 2)) scenario_untouched_sockets();
  if (wanted(argc, argv, 3)) scenario_connect_accept(setsockopt_ns);
  if (wanted(argc, argv, 4)) scenario_forced_setsockopt();
  unpin();
  if (wanted(argc, argv, 5)) scenario_process_start(preload);
  if (wanted(argc, argv, 6)) scenario_threads();
  printf("\nphysical limit: one setsockopt() call costs %.0f ns here; a tuned socket needs 4\n",
         setsockopt_ns);
  return g_failed ? 1 : 0;
}
