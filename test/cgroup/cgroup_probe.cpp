// cgroup_probe: one TCP connection, made or accepted by a process of the cgroup under test,
// and the keep-alive values the kernel holds for it, read back with getsockopt.
//
//   cgroup_probe connect ADDRESS PORT [--before OPTIONS] [--after OPTIONS]
//       socket() of ADDRESS's family (an IPv4-mapped address makes an IPv6 socket), the
//       options in --before set, connect(), those in --after set; prints
//       "connected keepalive=K idle=I intvl=N cnt=C user_timeout=U" on stdout
//   cgroup_probe listen ADDRESS [--before OPTIONS]
//       listens on ADDRESS, port 0 (the options set on the listener); prints "port=P",
//       accepts one connection and prints "accepted keepalive=..."
// Then both read until the peer closes and exit 0; 1 when a call fails.
//   cgroup_probe selfconnect ADDRESS
//       binds to ADDRESS, port 0, and connects to that same address: a connection the
//       program opened that the kernel completes by simultaneous open; prints
//       "selfconnected keepalive=..." and exits 0
//   cgroup_probe unanswered
//       connects to a listener of its own whose accept queue is full, so that its SYNs go
//       unanswered; prints "unanswered errno=NAME" (ETIMEDOUT when TCP_USER_TIMEOUT bounded
//       the wait, EINTR when alarm(8) ended it) and exits 0. OPTIONS:
// comma-separated NAME=VALUE with NAME keepalive, idle, intvl, cnt or user_timeout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "cgroup_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int read_option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1;
}

void report(const char* event, int fd) {
  std::printf("%s keepalive=%d idle=%d intvl=%d cnt=%d user_timeout=%d\n", event,
              read_option(fd, SOL_SOCKET, SO_KEEPALIVE), read_option(fd, IPPROTO_TCP, TCP_KEEPIDLE),
              read_option(fd, IPPROTO_TCP, TCP_KEEPINTVL),
              read_option(fd, IPPROTO_TCP, TCP_KEEPCNT),
              read_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
  std::fflush(stdout);
}

void set_options(int fd, const std::string& list) {
  std::istringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    const std::size_t equals = item.find('=');
    const std::string name = item.substr(0, equals);
    const int value = std::atoi(item.substr(equals + 1).c_str());
    int level = IPPROTO_TCP, option = 0;
    if (name == "keepalive") {
      level = SOL_SOCKET;
      option = SO_KEEPALIVE;
    } else if (name == "idle") {
      option = TCP_KEEPIDLE;
    } else if (name == "intvl") {
      option = TCP_KEEPINTVL;
    } else if (name == "cnt") {
      option = TCP_KEEPCNT;
    } else if (name == "user_timeout") {
      option = TCP_USER_TIMEOUT;
    } else {
      std::fprintf(stderr, "cgroup_probe: unknown option %s\n", name.c_str());
      std::exit(2);
    }
    if (setsockopt(fd, level, option, &value, sizeof value) != 0) fail("setsockopt");
  }
}

// ADDRESS PORT as a socket address; an IPv4-mapped IPv6 address stays IPv6.
socklen_t parse(const char* text, int port, sockaddr_storage* address) {
  *address = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(address);
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return sizeof *v4;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    return sizeof *v6;
  }
  std::fprintf(stderr, "cgroup_probe: not an address: %s\n", text);
  std::exit(2);
}

int read_until_end(int fd) {
  char buffer[256];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got == 0) return 0;
    if (got < 0 && errno != EINTR) fail("read");
  }
}

int self_connect(const char* text) {
  sockaddr_storage address;
  const socklen_t length = parse(text, 0, &address);
  const int fd = socket(address.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) fail("bind");
  socklen_t bound = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &bound);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), bound) != 0) fail("connect");
  report("selfconnected", fd);
  return 0;
}

// One socket connects twice: first to ADDRESS REFUSING (a port bound, not listening: refused),
// then to ADDRESS PORT, and sets OPTIONS itself after. Its values after that.
int retry(const char* text, int refusing, int port, const std::string& options) {
  sockaddr_storage address;
  socklen_t length = parse(text, refusing, &address);
  const int fd = socket(address.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 ||
      errno != ECONNREFUSED) {
    fail("connect (refused)");
  }
  length = parse(text, port, &address);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) fail("connect");
  set_options(fd, options);
  report("connected", fd);
  return read_until_end(fd);
}

void on_alarm(int) {}

// The accept queue of a listener with backlog 0 holds one connection: a second one's SYNs
// are dropped, and its connect() waits as for a peer that does not answer.
int unanswered() {
  sockaddr_storage address;
  const socklen_t length = parse("127.0.0.1", 0, &address);
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 0) != 0) {
    fail("bind/listen");
  }
  socklen_t bound = sizeof address;
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &bound);
  const int queued = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(queued, reinterpret_cast<sockaddr*>(&address), bound) != 0) fail("connect");
  // The handshake ends when the listener gets our last ACK, maybe after connect() returned;
  // a listener's tcpi_unacked is the length of its accept queue.
  for (int wait = 0; wait < 2000; ++wait) {
    tcp_info info = {};
    socklen_t info_length = sizeof info;
    getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &info_length);
    if (info.tcpi_unacked >= 1) break;
    usleep(1000);
  }
  struct sigaction action = {};
  action.sa_handler = on_alarm;  // no SA_RESTART: the alarm ends connect() with EINTR
  sigaction(SIGALRM, &action, nullptr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  alarm(8);
  const int result = connect(fd, reinterpret_cast<sockaddr*>(&address), bound);
  const int error = errno;
  alarm(0);
  const char* name = result == 0          ? "none"
                     : error == ETIMEDOUT ? "ETIMEDOUT"
                     : error == EINTR     ? "EINTR"
                                          : std::strerror(error);
  std::printf("unanswered errno=%s\n", name);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (argc < 3 && std::string(argv[1]) != "unanswered")) {
    std::fprintf(stderr,
                 "usage: cgroup_probe connect ADDRESS PORT | listen ADDRESS [...] | selfconnect "
                 "ADDRESS | retry ADDRESS REFUSING PORT [OPTIONS] | unanswered\n");
    return 2;
  }
  const std::string action = argv[1];
  if (action == "selfconnect") return self_connect(argv[2]);
  if (action == "unanswered") return unanswered();
  if (action == "retry" && argc >= 5) {
    return retry(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argc > 5 ? argv[5] : "");
  }
  const bool connecting = action == "connect";
  int next = connecting ? 4 : 3;
  if (argc < next) return 2;
  std::string before, after;
  for (; next + 1 < argc; next += 2) {
    (std::string(argv[next]) == "--before" ? before : after) = argv[next + 1];
  }
  sockaddr_storage address;
  const socklen_t length = parse(argv[2], connecting ? std::atoi(argv[3]) : 0, &address);
  const int fd = socket(address.ss_family, SOCK_STREAM, 0);
  if (fd < 0) fail("socket");
  set_options(fd, before);
  if (connecting) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) fail("connect");
    set_options(fd, after);
    report("connected", fd);
    return read_until_end(fd);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd, 4) != 0) {
    fail("bind/listen");
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  const int port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  std::printf("port=%d\n", port);
  std::fflush(stdout);
  const int connection = accept(fd, nullptr, nullptr);
  if (connection < 0) fail("accept");
  set_options(connection, after);
  report("accepted", connection);
  return read_until_end(connection);
}
