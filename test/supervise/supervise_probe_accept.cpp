// supervise_probe's scenarios about accept() and accept4(): what a server sees of each call
// (return value, errno, descriptor number and flags, the address and length written), and
// the keep-alive values of each connection under keys starting with "values_" (tuned or
// not: the only keys that may differ with the supervisor). Clients connect from 127.0.0.2
// (the tests' KASHIM_PEERS) or 127.0.0.3 (another peer).
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include "supervise_probe.hpp"

namespace supervise_probe {
namespace {

constexpr const char* kMatching = "127.0.0.2";
constexpr const char* kOther = "127.0.0.3";

int client_from(const char* source, in_port_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to = loopback(port);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    die("client");
  }
  return fd;
}

sockaddr_in local_address(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address;
}

// Whether `accepted` is the connection of `client`: its peer is the client's address.
bool connects(int accepted, int client) {
  sockaddr_in peer{};
  socklen_t length = sizeof peer;
  const sockaddr_in own = local_address(client);
  return getpeername(accepted, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
         peer.sin_port == own.sin_port && peer.sin_addr.s_addr == own.sin_addr.s_addr;
}

std::string flags_of(int fd) {
  return std::string("nonblock:") + ((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0 ? "1" : "0") +
         " cloexec:" + ((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0 ? "1" : "0");
}

// What a client sees of a connection the server's accept dropped: end of file (0).
long client_read(int client) {
  pollfd entry{client, POLLIN, 0};
  if (poll(&entry, 1, 5000) != 1) return -2;
  char byte;
  return read(client, &byte, 1) < 0 ? -errno : 0;
}

void put_accept(const std::string& key, int fd, int error) {
  put(key, outcome(fd, error) + (fd >= 0 ? " fd:" + std::to_string(fd) : ""));
}

// Waits (bounded by 10 s) until `thread` (of this process, or else the process `pid`) sits
// in accept or accept4: /proc says which call a blocked thread is in, with or without a
// supervisor.
bool in_accept(pid_t thread, bool of_this_process = true) {
  char path[64];
  std::snprintf(path, sizeof path,
                of_this_process ? "/proc/self/task/%d/syscall" : "/proc/%d/syscall",
                static_cast<int>(thread));
  for (int i = 0; i < 10000; ++i) {
    if (FILE* file = std::fopen(path, "re")) {
      long number = -1;
      const int read = std::fscanf(file, "%ld", &number);
      std::fclose(file);
      if (read == 1 && (number == SYS_accept || number == SYS_accept4)) return true;
    }
    timespec pause{0, 1000000};
    nanosleep(&pause, nullptr);
  }
  return false;
}

struct BlockedAccept {
  int listener = -1;
  std::atomic<pid_t> tid{0};
  int result = -1;
  int error = 0;
};

void* accept_in_thread(void* argument) {
  auto* call = static_cast<BlockedAccept*>(argument);
  call->tid = static_cast<pid_t>(syscall(SYS_gettid));
  call->result = accept(call->listener, nullptr, nullptr);
  call->error = errno;
  return nullptr;
}

pthread_t start_accept(BlockedAccept* call) {
  pthread_t thread;
  pthread_create(&thread, nullptr, accept_in_thread, call);
  while (call->tid == 0) sched_yield();
  if (!in_accept(call->tid)) die("the thread never blocked in accept");
  return thread;
}

std::atomic<int> g_handled{0};

}  // namespace

// accept-forms: blocking accepts in every form: from a matching and another peer, accept4's
// flags, a short and a zero length, no address, and the addresses the kernel refuses.
int scenario_accept_forms(const std::vector<std::string>&) {
  const int listener = make_listener();
  const in_port_t port = port_of(listener);
  {  // matching peer, full address
    const int client = client_from(kMatching, port);
    sockaddr_in address{};
    socklen_t length = sizeof address;
    const int fd = accept(listener, reinterpret_cast<sockaddr*>(&address), &length);
    put_accept("a", fd, errno);
    put("a_length", length);
    const sockaddr_in own = local_address(client);
    put("a_address", std::memcmp(&address, &own, sizeof address) == 0);
    put("a_flags", flags_of(fd));
    put("values_a", values_of(fd));
  }
  {  // another peer, no address
    const int client = client_from(kOther, port);
    const int fd = accept(listener, nullptr, nullptr);
    put_accept("b", fd, errno);
    put("b_connects", connects(fd, client));
    put("values_b", values_of(fd));
  }
  for (int flags : {int{SOCK_NONBLOCK | SOCK_CLOEXEC}, int{SOCK_CLOEXEC}, int{SOCK_NONBLOCK}, 0}) {
    const int client = client_from(kMatching, port);
    const int fd = accept4(listener, nullptr, nullptr, flags);
    const std::string key = "c" + std::to_string(flags);
    put_accept(key, fd, errno);
    put(key + "_flags", flags_of(fd));
    put(key + "_connects", connects(fd, client));
    put("values_" + key, values_of(fd));
  }
  {  // a short length: the full length comes back, the address is cut
    const int client = client_from(kMatching, port);
    unsigned char buffer[sizeof(sockaddr_in)];
    std::memset(buffer, 0xAA, sizeof buffer);
    socklen_t length = 4;
    const int fd = accept(listener, reinterpret_cast<sockaddr*>(buffer), &length);
    put_accept("d", fd, errno);
    put("d_length", length);
    const sockaddr_in own = local_address(client);
    put("d_prefix", std::memcmp(buffer, &own, 4) == 0);
    bool rest_untouched = true;
    for (std::size_t i = 4; i < sizeof buffer; ++i) rest_untouched &= buffer[i] == 0xAA;
    put("d_rest_untouched", rest_untouched);
    put("values_d", values_of(fd));
  }
  {  // a zero length: nothing written but the length
    client_from(kMatching, port);
    unsigned char buffer[sizeof(sockaddr_in)];
    std::memset(buffer, 0xAA, sizeof buffer);
    socklen_t length = 0;
    const int fd = accept(listener, reinterpret_cast<sockaddr*>(buffer), &length);
    put_accept("e", fd, errno);
    put("e_length", length);
    put("e_untouched", buffer[0] == 0xAA && buffer[sizeof buffer - 1] == 0xAA);
  }
  {  // no address: the length pointer is not looked at
    client_from(kMatching, port);
    const int fd = accept(listener, nullptr, reinterpret_cast<socklen_t*>(8));
    put_accept("f", fd, errno);
  }
  // The kernel refuses these only after taking the connection, which it then drops.
  void* read_only = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  socklen_t full = sizeof(sockaddr_in), negative = static_cast<socklen_t>(-1);
  sockaddr_in somewhere{};
  struct Refused {
    const char* key;
    void* address;
    socklen_t* length;
  } const refused[] = {{"g_bad_address", reinterpret_cast<void*>(8), &full},
                       {"g_read_only_address", read_only, &full},
                       {"g_bad_length", &somewhere, reinterpret_cast<socklen_t*>(8)},
                       {"g_read_only_length", &somewhere, static_cast<socklen_t*>(read_only)},
                       {"g_negative_length", &somewhere, &negative}};
  for (const Refused& call : refused) {
    const int client = client_from(kMatching, port);
    full = sizeof(sockaddr_in);
    const int fd = accept(listener, static_cast<sockaddr*>(call.address), call.length);
    put_accept(call.key, fd, errno);
    put(std::string(call.key) + "_client_reads", client_read(client));
  }
  return 0;
}

// accept-nonblocking: a non-blocking listener: EAGAIN at once, then poll() and accept4.
int scenario_accept_nonblocking(const std::vector<std::string>&) {
  const int listener = make_listener();
  fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK);
  int fd = accept(listener, nullptr, nullptr);
  put_accept("empty", fd, errno);
  const int client = client_from(kMatching, port_of(listener));
  pollfd entry{listener, POLLIN, 0};
  put("poll", poll(&entry, 1, 5000));
  fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  put_accept("ready", fd, errno);
  put("ready_connects", connects(fd, client));
  put("ready_flags", flags_of(fd));
  put("values_ready", values_of(fd));
  fd = accept(listener, nullptr, nullptr);
  put_accept("drained", fd, errno);
  return 0;
}

// accept-signal restart|eintr: a signal handler (with or without SA_RESTART) interrupts a
// blocked accept. With SA_RESTART the accept goes on and gets the next connection; without,
// it fails with EINTR, and the program closes the listener and listens on its port again.
int scenario_accept_signal(const std::vector<std::string>& args) {
  const bool restart = args.at(0) == "restart";
  struct sigaction action {};
  action.sa_handler = [](int) { ++g_handled; };
  action.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGUSR1, &action, nullptr);
  BlockedAccept call;
  call.listener = make_listener();
  const in_port_t port = port_of(call.listener);
  const pthread_t thread = start_accept(&call);
  pthread_kill(thread, SIGUSR1);
  int client = -1;
  if (restart) {
    while (g_handled == 0) sched_yield();
    if (!in_accept(call.tid)) die("the accept did not restart");
    client = client_from(kMatching, port);
  }
  pthread_join(thread, nullptr);
  // Not the number: the kernel takes it when a blocking accept starts, the supervisor when
  // the connection is there, after this thread's client took one (doc/supervise.md).
  put("result", outcome(call.result, call.error));
  put("handled", g_handled.load());
  if (restart) {
    put("connects", connects(call.result, client));
    put("values_restarted", values_of(call.result));
    return 0;
  }
  // Nobody holds the listener for long once the program closes it: its port is free again.
  close(call.listener);
  const int again = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(port);
  int attempts = 0, result = -1;
  for (; attempts < 3000 && result != 0; ++attempts) {
    result = bind(again, reinterpret_cast<sockaddr*>(&address), sizeof address);
    if (result != 0) {
      timespec pause{0, 1000000};
      nanosleep(&pause, nullptr);
    }
  }
  put("rebind", outcome(result, errno));
  put("values_rebind_attempts", attempts);
  return 0;
}

// accept-shutdown: shutdown(SHUT_RD) on the listener wakes a blocked accept with EINVAL.
int scenario_accept_shutdown(const std::vector<std::string>&) {
  BlockedAccept call;
  call.listener = make_listener();
  const pthread_t thread = start_accept(&call);
  put("shutdown", outcome(shutdown(call.listener, SHUT_RD), errno));
  pthread_join(thread, nullptr);
  put_accept("result", call.result, call.error);
  return 0;
}

// accept-two-threads: two threads blocked in accept on one listener get one connection each.
int scenario_accept_two_threads(const std::vector<std::string>&) {
  BlockedAccept calls[2];
  const int listener = make_listener();
  pthread_t threads[2];
  for (int i = 0; i < 2; ++i) {
    calls[i].listener = listener;
    threads[i] = start_accept(&calls[i]);
  }
  const int clients[2] = {client_from(kMatching, port_of(listener)),
                          client_from(kMatching, port_of(listener))};
  int tuned_connections = 0, matched = 0;
  for (int i = 0; i < 2; ++i) {
    pthread_join(threads[i], nullptr);
    put_accept("thread" + std::to_string(i), calls[i].result >= 0 ? 0 : -1, calls[i].error);
    tuned_connections += get_int(calls[i].result, SOL_SOCKET, SO_KEEPALIVE) == 1;
    for (int client : clients) matched += connects(calls[i].result, client);
  }
  put("matched", matched);
  put("values_tuned", tuned_connections);
  return 0;
}

// accept-emfile: no descriptor left (RLIMIT_NOFILE): EMFILE at once, and the connection stays
// queued for the accept after the limit is raised again.
int scenario_accept_emfile(const std::vector<std::string>&) {
  const int listener = make_listener();
  const int client = client_from(kMatching, port_of(listener));
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  const int lowest_free = dup(0);
  close(lowest_free);
  rlimit full = limit;
  full.rlim_cur = static_cast<rlim_t>(lowest_free);
  setrlimit(RLIMIT_NOFILE, &full);
  int fd = accept(listener, nullptr, nullptr);
  put_accept("full", fd, errno);
  setrlimit(RLIMIT_NOFILE, &limit);
  fd = accept(listener, nullptr, nullptr);
  put_accept("after", fd, errno);
  put("after_connects", connects(fd, client));
  put("values_after", values_of(fd));
  return 0;
}

// accept-storm N: N connections accepted while a thread sends the accepting thread signals
// (no SA_RESTART; the accept is made again after EINTR): every connection is accepted once.
int scenario_accept_storm(const std::vector<std::string>& args) {
  const int count = std::atoi(args.at(0).c_str());
  struct sigaction action {};
  action.sa_handler = [](int) { ++g_handled; };
  sigaction(SIGUSR1, &action, nullptr);
  static int listener = make_listener();
  static std::atomic<bool> done{false};
  static std::atomic<pthread_t> server_thread{};
  static std::set<in_port_t> accepted_ports;
  static int interrupted = 0, wrong_flags = 0;
  auto serve = [](void* total) -> void* {
    server_thread = pthread_self();
    for (int got = 0; got < *static_cast<int*>(total);) {
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      // Every other accept asks for a non-blocking connection: one the supervisor took for
      // an interrupted call and hands to the next must still get the flags that call asked.
      const int flags = got % 2 == 0 ? 0 : SOCK_NONBLOCK;
      const int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, flags);
      if (fd < 0) {
        if (errno != EINTR) die("accept in the storm");
        ++interrupted;
        continue;
      }
      accepted_ports.insert(peer.sin_port);
      wrong_flags += ((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0) != (flags != 0);
      close(fd);
      ++got;
    }
    done = true;
    return nullptr;
  };
  auto storm = [](void*) -> void* {
    while (!done) {
      pthread_kill(server_thread, SIGUSR1);
      timespec pause{0, 200000};
      nanosleep(&pause, nullptr);
    }
    return nullptr;
  };
  int total = count;
  pthread_t server, signaller;
  pthread_create(&server, nullptr, serve, &total);
  while (server_thread.load() == pthread_t{}) sched_yield();
  pthread_create(&signaller, nullptr, storm, nullptr);
  std::set<in_port_t> client_ports;
  for (int i = 0; i < count; ++i) {
    const int client = client_from(kMatching, port_of(listener));
    client_ports.insert(local_address(client).sin_port);
    close(client);
  }
  pthread_join(server, nullptr);
  pthread_join(signaller, nullptr);
  put("accepted", static_cast<long>(accepted_ports.size()));
  put("all_clients", accepted_ports == client_ports);
  put("wrong_flags", wrong_flags);
  put("values_interrupted", interrupted);
  return 0;
}

// daemon-accept FILE: forks a child that leaves the caller's pipes and session and waits in
// accept; once it does, this process reports the port and exits. The child writes what it
// accepted to FILE (the test connects from 127.0.0.2).
int scenario_daemon_accept(const std::vector<std::string>& args) {
  const int listener = make_listener();
  const pid_t child = fork();
  if (child == 0) {
    const int null = open("/dev/null", O_RDWR);
    for (int fd : {0, 1, 2}) dup2(null, fd);
    setsid();
    const int fd = accept(listener, nullptr, nullptr);
    const int error = errno;
    FILE* out = std::fopen(args.at(0).c_str(), "w");
    std::fprintf(out, "accept=%s\ndaemon=%s\n", outcome(fd, error).c_str(), values_of(fd).c_str());
    std::fclose(out);
    _exit(0);
  }
  if (!in_accept(child, /*of_this_process=*/false)) die("the child never blocked in accept");
  put("daemon_pid", child);
  put("port", port_of(listener));
  return 0;
}

}  // namespace supervise_probe
