// kashim_probe: an ordinary program for the integration tests to run with and without
// libkashim.so preloaded. It makes sockets the way real programs do and writes what the
// kernel says about them, as key=value lines, to the file named by its first argument.
// It never writes to stdout, so a test can prove that the shim does not either.
//
//   kashim_probe OUT SCENARIO [ARGS...]
#include <alloca.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "probe.hpp"

namespace probe {

FILE* g_out = nullptr;
const char* g_path = nullptr;

[[noreturn]] void die(const std::string& what) {
  fprintf(stderr, "kashim_probe: %s: %s\n", what.c_str(), strerror(errno));
  exit(3);
}

void put(const std::string& key, const std::string& value) {
  fprintf(g_out, "%s=%s\n", key.c_str(), value.c_str());
}
void put(const std::string& key, long value) {
  put(key, std::to_string(value));
}

int get_int(int fd, int level, int optname) {
  int value = -1;
  socklen_t length = sizeof value;
  if (getsockopt(fd, level, optname, &value, &length) != 0) return -errno;
  return value;
}

// What the kernel holds for fd, under the names the tests use.
void put_keepalive(const std::string& prefix, int fd) {
  put(prefix + "keepalive", get_int(fd, SOL_SOCKET, SO_KEEPALIVE));
  int protocol = get_int(fd, SOL_SOCKET, SO_PROTOCOL);
  if (protocol != IPPROTO_TCP) return;
  put(prefix + "idle", get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE));
  put(prefix + "intvl", get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL));
  put(prefix + "cnt", get_int(fd, IPPROTO_TCP, TCP_KEEPCNT));
  put(prefix + "user_timeout", get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
}

void put_fd_flags(const std::string& prefix, int fd) {
  put(prefix + "nonblock", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  put(prefix + "cloexec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
}

// A call's outcome as the program sees it: return value and errno, by name.
std::string outcome(long result, int error) {
  if (result >= 0) return "ok:" + std::to_string(result);
  const char* name = strerrorname_np(error);
  return std::string("fail:") + (name != nullptr ? name : std::to_string(error));
}

int family_of(const std::string& name) {
  if (name == "v4") return AF_INET;
  if (name == "v6") return AF_INET6;
  errno = EINVAL;
  die("family must be v4 or v6, not " + name);
}

// A loopback address of the family, with the given port.
sockaddr_storage loopback(int family, in_port_t port) {
  sockaddr_storage address{};
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    v6->sin6_addr = in6addr_loopback;
  }
  return address;
}

socklen_t length_of(int family) {
  return family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

in_port_t port_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) die("getsockname");
  return ntohs(address.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
}

int listener(int family, bool raw) {
  int fd = raw ? static_cast<int>(syscall(SYS_socket, family, SOCK_STREAM, 0))
               : socket(family, SOCK_STREAM, 0);
  if (fd < 0) die("listener socket");
  sockaddr_storage address = loopback(family, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length_of(family)) != 0) die("bind");
  if (listen(fd, 64) != 0) die("listen");
  return fd;
}

// A connection to `port` that the shim never sees (for testing the accepting side).
int raw_client(int family, in_port_t port) {
  int fd = static_cast<int>(syscall(SYS_socket, family, SOCK_STREAM, 0));
  sockaddr_storage address = loopback(family, port);
  if (fd < 0 || syscall(SYS_connect, fd, &address, length_of(family)) != 0) die("raw connect");
  return fd;
}

void wait_writable(int fd) {
  pollfd entry{fd, POLLOUT, 0};
  if (poll(&entry, 1, 10000) != 1) die("poll for connect");
}

int set_int(int fd, int level, int optname, int value) {
  return setsockopt(fd, level, optname, &value, sizeof value);
}

__attribute__((noinline)) int set_int_near(int fd, int level, int optname, int value,
                                           socklen_t length) {
  // Down to 2 KiB above a 4 KiB boundary, where the value goes, with the frames of the calls
  // below (setsockopt, the shim's) on the same page under it.
  char here;
  const std::size_t offset = reinterpret_cast<std::uintptr_t>(&here) % 4096;
  auto* slot = static_cast<unsigned char*>(alloca((offset + 4096 - 2048) % 4096 + 64));
  std::memset(slot, 0, 16);
  std::memcpy(slot, &value, sizeof value);
  return setsockopt(fd, level, optname, slot, length);
}

int set_int_far(int fd, int level, int optname, int value) {
  static thread_local int far;
  far = value;
  return setsockopt(fd, level, optname, &far, sizeof far);
}

// What the kernel holds for a connection, compactly: KEEPALIVE/IDLE/INTVL/CNT.
std::string summary(int fd) {
  return std::to_string(get_int(fd, SOL_SOCKET, SO_KEEPALIVE)) + "/" +
         std::to_string(get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE)) + "/" +
         std::to_string(get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL)) + "/" +
         std::to_string(get_int(fd, IPPROTO_TCP, TCP_KEEPCNT));
}

std::string peer_text(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) die("getpeername");
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, text, sizeof text);
    return text;
  }
  const in6_addr& address = reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&address)) {
    inet_ntop(AF_INET, address.s6_addr + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, &address, text, sizeof text);
  }
  return text;
}

}  // namespace probe

namespace {

using namespace probe;
using probe::length_of;  // overloaded below for a whole address

// --- scenarios ------------------------------------------------------------------------

// socket v4|v6|unix stream|dgram [flags] [tcp]: one socket() call and what it gave.
int scenario_socket(const std::vector<std::string>& args) {
  if (args.size() < 2) die("socket needs a family and a type");
  int family = args[0] == "unix" ? AF_UNIX : family_of(args[0]);
  int type = args[1] == "stream" ? SOCK_STREAM : SOCK_DGRAM;
  int protocol = 0;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "nonblock") type |= SOCK_NONBLOCK;
    if (args[i] == "cloexec") type |= SOCK_CLOEXEC;
    if (args[i] == "tcp") protocol = IPPROTO_TCP;
  }
  errno = 4242;  // a successful call must leave errno exactly as it was
  int fd = socket(family, type, protocol);
  put("errno_after", errno);
  if (fd < 0) die("socket");
  put("fd", fd);
  put_keepalive("", fd);
  put_fd_flags("", fd);
  return 0;
}

// connect v4|v6 blocking|nonblocking: the client side of a loopback connection.
int scenario_connect(const std::vector<std::string>& args) {
  if (args.size() < 2) die("connect needs a family and blocking|nonblocking");
  int family = family_of(args[0]);
  bool nonblocking = args[1] == "nonblocking";
  int server = listener(family, /*raw=*/true);
  int fd = socket(family, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die("socket");
  sockaddr_storage address = loopback(family, port_of(server));
  errno = 4242;
  int result = connect(fd, reinterpret_cast<sockaddr*>(&address), length_of(family));
  put("connect", outcome(result, errno));
  put("errno_after", errno);
  if (nonblocking) wait_writable(fd);
  put("so_error", get_int(fd, SOL_SOCKET, SO_ERROR));
  put_keepalive("", fd);
  return 0;
}

// accept v4|v6 accept|accept4: the accepting side; the client is made with raw system
// calls so that only the listener, created under the shim, can have tuned the connection.
int scenario_accept(const std::vector<std::string>& args) {
  if (args.size() < 2) die("accept needs a family and accept|accept4");
  int family = family_of(args[0]);
  int server = listener(family);
  int client = raw_client(family, port_of(server));
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  errno = 4242;
  int fd = args[1] == "accept4" ? accept4(server, reinterpret_cast<sockaddr*>(&peer), &peer_length,
                                          SOCK_NONBLOCK | SOCK_CLOEXEC)
                                : accept(server, reinterpret_cast<sockaddr*>(&peer), &peer_length);
  put("errno_after", errno);
  if (fd < 0) die("accept");
  put("peer_family", peer.ss_family);
  put("peer_port_matches",
      ntohs(family == AF_INET
                ? reinterpret_cast<sockaddr_in*>(&peer)->sin_port
                : reinterpret_cast<sockaddr_in6*>(&peer)->sin6_port) == port_of(client));
  put_keepalive("", fd);
  put_fd_flags("", fd);
  put_keepalive("client_", client);
  return 0;
}

// override [near|far]: the program sets its own keep-alive values, as libuv and curl do,
// from a local variable (near: where the shim reads it, set_int_near; far: in static memory).
int scenario_override(const std::vector<std::string>& args) {
  const std::string where = args.empty() ? "" : args[0];
  auto set_int = [&](int fd, int level, int optname, int value) {
    if (where == "near") return set_int_near(fd, level, optname, value);
    if (where == "far") return set_int_far(fd, level, optname, value);
    return probe::set_int(fd, level, optname, value);
  };
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct Setting {
    const char* name;
    int level, optname, value;
  };
  const Setting settings[] = {{"keepalive", SOL_SOCKET, SO_KEEPALIVE, 0},
                              {"idle", IPPROTO_TCP, TCP_KEEPIDLE, 1000},
                              {"intvl", IPPROTO_TCP, TCP_KEEPINTVL, 1},
                              {"cnt", IPPROTO_TCP, TCP_KEEPCNT, 10},
                              {"user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT, 1234}};
  for (const Setting& setting : settings) {
    errno = 4242;
    int result = set_int(fd, setting.level, setting.optname, setting.value);
    put(std::string("set_") + setting.name, outcome(result, errno));
    put(std::string("errno_after_") + setting.name, errno);
  }
  put_keepalive("", fd);
  // Invalid values keep the kernel's own answer, whatever the mode.
  int result = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 0);
  put("set_idle_zero", outcome(result, errno));
  result = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 1000);
  put("set_cnt_huge", outcome(result, errno));
  // Switching keep-alive off on sockets that are not TCP is left alone.
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  int unix_pair[2];
  if (udp < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, unix_pair) != 0) die("udp/unix sockets");
  set_int(udp, SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int(udp, SOL_SOCKET, SO_KEEPALIVE, 0);
  set_int(unix_pair[0], SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int(unix_pair[0], SOL_SOCKET, SO_KEEPALIVE, 0);
  put("udp_keepalive", get_int(udp, SOL_SOCKET, SO_KEEPALIVE));
  put("unix_keepalive", get_int(unix_pair[0], SOL_SOCKET, SO_KEEPALIVE));
  return 0;
}

// errors: every failure the hooks can meet, with return values, errno and descriptor
// numbers; run with and without the shim, the output must be identical.
int scenario_errors(const std::vector<std::string>&) {
  // Every call starts with errno 4242, so a success shows whether anything touched errno.
  auto record = [](const char* name, long result) {
    int error = errno;
    std::string text = outcome(result, error);
    if (result >= 0) text += " errno:" + std::to_string(error);
    put(name, text);
    errno = 4242;
  };
  errno = 4242;
  record("socket_bad_family", socket(12345, SOCK_STREAM, 0));
  record("socket_bad_protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  record("socket_bad_type", socket(AF_INET, 99, 0));
  record("socket_bad_flags", socket(AF_INET, SOCK_STREAM | 0x40000000, 0));
  int tcp = socket(AF_INET, SOCK_STREAM, 0);
  record("socket_tcp", tcp);

  // A port that nothing listens on: bound, then closed.
  int spare = listener(AF_INET, true);
  in_port_t closed_port = port_of(spare);
  close(spare);
  sockaddr_storage closed = loopback(AF_INET, closed_port);
  record("connect_refused",
         connect(tcp, reinterpret_cast<sockaddr*>(&closed), sizeof(sockaddr_in)));
  record("connect_bad_fd", connect(-1, reinterpret_cast<sockaddr*>(&closed), sizeof(sockaddr_in)));
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) die("pipe");
  record("connect_not_socket",
         connect(pipe_fds[0], reinterpret_cast<sockaddr*>(&closed), sizeof(sockaddr_in)));
  int v6 = socket(AF_INET6, SOCK_STREAM, 0);
  record("connect_wrong_family", connect(v6, reinterpret_cast<sockaddr*>(&closed), 4));
  int server = listener(AF_INET, true);
  sockaddr_storage open_address = loopback(AF_INET, port_of(server));
  int nonblocking = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  record("connect_nonblocking",
         connect(nonblocking, reinterpret_cast<sockaddr*>(&open_address), sizeof(sockaddr_in)));
  wait_writable(nonblocking);
  record("connect_again",
         connect(nonblocking, reinterpret_cast<sockaddr*>(&open_address), sizeof(sockaddr_in)));
  int blocking = socket(AF_INET, SOCK_STREAM, 0);
  record("connect_ok",
         connect(blocking, reinterpret_cast<sockaddr*>(&open_address), sizeof(sockaddr_in)));

  record("accept_bad_fd", accept(-1, nullptr, nullptr));
  record("accept_not_listening", accept(tcp, nullptr, nullptr));
  record("accept4_bad_flags", accept4(server, nullptr, nullptr, 0x40000000));
  record("accept_ok", accept(server, nullptr, nullptr));
  record("accept4_ok", accept4(server, nullptr, nullptr, SOCK_CLOEXEC));
  if (fcntl(server, F_SETFL, O_NONBLOCK) != 0) die("fcntl");
  record("accept_would_block", accept(server, nullptr, nullptr));

  int value = 30;
  record("setsockopt_bad_fd", setsockopt(-1, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value));
  record("setsockopt_not_socket",
         setsockopt(pipe_fds[0], SOL_SOCKET, SO_KEEPALIVE, &value, sizeof value));
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  record("setsockopt_tcp_on_udp", setsockopt(udp, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value));
  record("setsockopt_short", setsockopt(tcp, IPPROTO_TCP, TCP_KEEPIDLE, &value, 2));
  record("setsockopt_null", setsockopt(tcp, IPPROTO_TCP, TCP_KEEPIDLE, nullptr, sizeof value));
  int zero = 0;
  record("setsockopt_zero_idle", setsockopt(tcp, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof zero));
  record("setsockopt_ok", setsockopt(tcp, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value));
  record("setsockopt_other", setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &value, sizeof value));

  // Out of descriptors: the limit is set just above what is open now.
  int probe_fd = dup(0);
  rlimit limit{static_cast<rlim_t>(probe_fd + 1), static_cast<rlim_t>(probe_fd + 1)};
  close(probe_fd);
  int last = socket(AF_INET, SOCK_STREAM, 0);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) die("setrlimit");
  record("socket_emfile", socket(AF_INET, SOCK_STREAM, 0));
  close(last);
  record("socket_after_close", socket(AF_INET6, SOCK_STREAM, 0));
  return 0;
}

// threads N M: N threads each make M TCP sockets; how many came out with keep-alive on.
int scenario_threads(const std::vector<std::string>& args) {
  int threads = args.size() > 0 ? atoi(args[0].c_str()) : 8;
  int per_thread = args.size() > 1 ? atoi(args[1].c_str()) : 100;
  std::atomic<int> tuned{0}, made{0};
  std::atomic<bool> go{false};
  std::vector<pthread_t> ids(threads);
  struct Work {
    int count;
    std::atomic<int>* tuned;
    std::atomic<int>* made;
    std::atomic<bool>* go;
  } work{per_thread, &tuned, &made, &go};
  auto body = [](void* raw) -> void* {
    auto* work = static_cast<Work*>(raw);
    while (!work->go->load()) {
    }
    for (int i = 0; i < work->count; ++i) {
      int fd = socket(i % 2 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      ++*work->made;
      if (get_int(fd, SOL_SOCKET, SO_KEEPALIVE) == 1) ++*work->tuned;
      close(fd);
    }
    return nullptr;
  };
  for (auto& id : ids) pthread_create(&id, nullptr, body, &work);
  go = true;
  for (auto& id : ids) pthread_join(id, nullptr);
  put("made", made.load());
  put("tuned", tuned.load());
  return 0;
}

// fork: a socket made in a forked child.
int scenario_fork(const std::vector<std::string>&) {
  int results[2];
  if (pipe(results) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int values[2] = {get_int(fd, SOL_SOCKET, SO_KEEPALIVE), get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE)};
    _exit(write(results[1], values, sizeof values) == sizeof values ? 0 : 1);
  }
  int values[2] = {-1, -1};
  int status = 0;
  waitpid(child, &status, 0);
  if (read(results[0], values, sizeof values) != sizeof values) die("read from child");
  put("child_keepalive", values[0]);
  put("child_idle", values[1]);
  put("child_status", status);
  return 0;
}

int g_signal_socket = -1;

// signal: a socket made inside a signal handler.
int scenario_signal(const std::vector<std::string>&) {
  struct sigaction action {};
  action.sa_handler = [](int) { g_signal_socket = socket(AF_INET6, SOCK_STREAM, 0); };
  sigaction(SIGUSR1, &action, nullptr);
  raise(SIGUSR1);
  if (g_signal_socket < 0) die("socket in handler");
  put_keepalive("", g_signal_socket);
  return 0;
}

// early: the socket libkashim_early.so made in its constructor, before main.
int scenario_early(const std::vector<std::string>&) {
  const char* fd = getenv("KASHIM_EARLY_FD");
  if (fd == nullptr) {
    errno = ENOENT;
    die("KASHIM_EARLY_FD not set: libkashim_early.so was not preloaded");
  }
  put_keepalive("", atoi(fd));
  return 0;
}

// phases K: the calls whose system-call cost the tests count, each phase between two marker
// calls that strace shows as close(-100N) and close(-200N).
int scenario_phases(const std::vector<std::string>& args) {
  int count = args.empty() ? 10 : atoi(args[0].c_str());
  auto phase = [](int number, const std::function<void()>& body) {
    close(-1000 - number);
    body();
    close(-2000 - number);
  };
  // The first hooked call reads the configuration (and /etc/kashim.conf), and the first TCP
  // socket maps the shim's table of descriptor numbers: before the phases.
  close(socket(AF_INET, SOCK_STREAM, 0));
  phase(1, [&] {  // tuned TCP sockets, both families
    for (int i = 0; i < count; ++i) {
      close(socket(AF_INET, SOCK_STREAM, 0));
      close(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    }
  });
  phase(2, [&] {  // sockets that are not TCP
    for (int i = 0; i < count; ++i) {
      close(socket(AF_INET, SOCK_DGRAM, 0));
      close(socket(AF_UNIX, SOCK_STREAM, 0));
    }
  });
  int server = listener(AF_INET);  // tuned, outside the phases
  std::vector<int> clients;
  for (int i = 0; i < count; ++i) clients.push_back(raw_client(AF_INET, port_of(server)));
  phase(3, [&] {  // connections accepted on a listener made under the shim
    for (int i = 0; i < count; ++i)
      close(i % 2 ? accept(server, nullptr, nullptr)
                  : accept4(server, nullptr, nullptr, SOCK_CLOEXEC));
  });
  int fd = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
  phase(4, [&] {  // the program's own keep-alive settings, replaced in force mode...
    for (int i = 0; i < count; ++i) {
      set_int_far(fd, IPPROTO_TCP, TCP_KEEPINTVL, 1);
      set_int_far(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1000);
      set_int_far(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    }
  });
  phase(5, [&] {  // connect() on a tuned socket
    for (int i = 0; i < count; ++i) {
      int client = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_storage address = loopback(AF_INET, port_of(server));
      connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(sockaddr_in));
      close(client);
    }
  });
  phase(6, [&] {  // ... with values the shim can read (a local variable, most often)
    for (int i = 0; i < count; ++i) {
      set_int_near(fd, IPPROTO_TCP, TCP_KEEPINTVL, 1);
      set_int_near(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1000);
      set_int_near(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    }
  });
  put("done", 1);
  return 0;
}

// deepbind LIBRARY: a socket made inside a library loaded with RTLD_DEEPBIND, the way PHP
// loads its extensions.
int scenario_deepbind(const std::vector<std::string>& args) {
  if (args.empty()) die("deepbind needs the library");
  void* library = dlopen(args[0].c_str(), RTLD_NOW | RTLD_DEEPBIND);
  if (library == nullptr) die(std::string("dlopen: ") + dlerror());
  auto make_socket = reinterpret_cast<int (*)()>(dlsym(library, "deepbound_socket"));
  if (make_socket == nullptr) die("dlsym deepbound_socket");
  int fd = make_socket();
  if (fd < 0) die("socket in the deep-bound library");
  put_keepalive("", fd);
  return 0;
}

// seccomp: setsockopt is refused with EPERM by a filter, as some sandboxes do. The
// program's own calls must see exactly what they would see without the shim.
int scenario_seccomp(const std::vector<std::string>&) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setsockopt, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    die("seccomp");
  }
  for (int i = 0; i < 3; ++i) {
    errno = 4242;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    put("socket_" + std::to_string(i), fd >= 0 ? "ok" : outcome(fd, errno));
    put("errno_after_" + std::to_string(i), errno);
    put("keepalive_" + std::to_string(i), get_int(fd, SOL_SOCKET, SO_KEEPALIVE));
  }
  return 0;
}

// --- peers, directions and inherited sockets (KASHIM_PEERS, KASHIM_DIRECTION) -----------

// An address of the scenario's family: "127.0.0.2" as IPv4, or as ::ffff:127.0.0.2 when
// `mapped` (what a dual-stack IPv6 socket uses), or an IPv6 address.
sockaddr_storage address_of(const std::string& text, in_port_t port, bool mapped) {
  sockaddr_storage address{};
  if (text.find(':') == std::string::npos && !mapped) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) != 1) die("address " + text);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    std::string v6_text = text.find(':') == std::string::npos ? "::ffff:" + text : text;
    if (inet_pton(AF_INET6, v6_text.c_str(), &v6->sin6_addr) != 1) die("address " + text);
  }
  return address;
}

socklen_t length_of(const sockaddr_storage& address) {
  return length_of(address.ss_family);
}

// A listener under the shim on `port` (0: ephemeral) of every local address of the family;
// the program set TCP_KEEPIDLE 1000 on it before listening.
int wide_listener(int family, in_port_t port) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) die("listener socket");
  set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (family == AF_INET6) set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  sockaddr_storage address{};
  address.ss_family = static_cast<sa_family_t>(family);
  reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);  // same offset in both
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length_of(family)) != 0) die("bind");
  set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1000);
  if (listen(fd, 64) != 0) die("listen");
  return fd;
}

// Accepts and closes whatever is queued on a listener.
void drain(int listener) {
  for (;;) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
    if (fd < 0) return;
    close(fd);
  }
}

// peers v4|v6|dual PORT: connections in both directions between this program and the
// loopback peers 127.0.0.1 and 127.0.0.2 (v4, and dual: the same peers through dual-stack
// IPv6 sockets, as ::ffff:127.0.0.x) or ::1 (v6). Two listeners under the shim, "p" on PORT
// and "q" on an ephemeral port. The program sets TCP_KEEPIDLE 1000 before connecting (and on
// its listeners) and TCP_KEEPINTVL 1 after, so that force and fallback mode both show. Each
// connection is reported as KEEPALIVE/IDLE/INTVL/CNT:
//   out.PEER.p|q    opened with connect()
//   tfo.PEER.p      opened with sendto(MSG_FASTOPEN); tfomsg.PEER.p with sendmsg
//   udp.PEER        keep-alive of a UDP socket connected to the peer (never tuned)
//   in.PEER.p|q     accepted from a client (made behind the shim's back) at PEER
int scenario_peers(const std::vector<std::string>& args) {
  if (args.size() < 2) die("peers needs v4|v6|dual and a port");
  const bool dual = args[0] == "dual";
  const int family = dual ? AF_INET6 : family_of(args[0]);
  const std::vector<std::string> peers = args[0] == "v6"
                                             ? std::vector<std::string>{"::1"}
                                             : std::vector<std::string>{"127.0.0.1", "127.0.0.2"};
  int listeners[2] = {wide_listener(family, static_cast<in_port_t>(atoi(args[1].c_str()))),
                      wide_listener(family, 0)};
  const char* labels[2] = {"p", "q"};
  std::vector<int> keep;  // open until the end: closing would let the ports be reused

  for (const std::string& peer : peers) {
    for (int i = 0; i < 2; ++i) {
      sockaddr_storage address = address_of(peer, port_of(listeners[i]), dual);
      int fd = socket(family, SOCK_STREAM, 0);
      set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1000);
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), length_of(address)) != 0) {
        die("connect to " + peer);
      }
      set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 1);
      put("out." + peer + "." + labels[i], summary(fd));
      keep.push_back(fd);
    }
    sockaddr_storage address = address_of(peer, port_of(listeners[0]), dual);
    int fast = socket(family, SOCK_STREAM, 0);
    set_int(fast, IPPROTO_TCP, TCP_KEEPIDLE, 1000);
    errno = 0;
    ssize_t sent = sendto(fast, "x", 1, MSG_FASTOPEN, reinterpret_cast<sockaddr*>(&address),
                          length_of(address));
    put("tfo_sent." + peer, outcome(sent, errno));
    set_int(fast, IPPROTO_TCP, TCP_KEEPINTVL, 1);
    put("tfo." + peer + ".p", summary(fast));
    keep.push_back(fast);
    int fast_message = socket(family, SOCK_STREAM, 0);
    char byte = 'x';
    iovec data{&byte, 1};
    msghdr message{};
    message.msg_name = &address;
    message.msg_namelen = length_of(address);
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    sent = sendmsg(fast_message, &message, MSG_FASTOPEN);
    put("tfomsg_sent." + peer, outcome(sent, errno));
    put("tfomsg." + peer + ".p", summary(fast_message));
    keep.push_back(fast_message);
    int udp = socket(family, SOCK_DGRAM, 0);
    if (connect(udp, reinterpret_cast<sockaddr*>(&address), length_of(address)) != 0) {
      die("udp connect");
    }
    put("udp." + peer, get_int(udp, SOL_SOCKET, SO_KEEPALIVE));
    keep.push_back(udp);
  }
  for (int listener : listeners) {
    if (fcntl(listener, F_SETFL, O_NONBLOCK) != 0) die("fcntl");
    drain(listener);  // this program's own outgoing connections, already reported
  }

  for (const std::string& peer : peers) {
    for (int i = 0; i < 2; ++i) {
      // A client the shim never sees, bound to the peer address so that it comes from there.
      sockaddr_storage source = address_of(peer, 0, false);
      int client = static_cast<int>(syscall(SYS_socket, source.ss_family, SOCK_STREAM, 0));
      sockaddr_storage target = address_of(peer, port_of(listeners[i]), false);
      if (client < 0 ||
          bind(client, reinterpret_cast<sockaddr*>(&source), length_of(source)) != 0 ||
          syscall(SYS_connect, client, &target, length_of(target)) != 0) {
        die("raw client from " + peer);
      }
      keep.push_back(client);
      pollfd ready{listeners[i], POLLIN, 0};
      if (poll(&ready, 1, 10000) != 1) die("poll for the client");
      int fd = accept4(listeners[i], nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) die("accept");
      set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 1);
      put("in." + peer_text(fd) + "." + labels[i], summary(fd));
      keep.push_back(fd);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: kashim_probe OUT SCENARIO [ARGS...]\n");
    return 2;
  }
  probe::g_path = argv[1];
  probe::g_out = fopen(argv[1], "w");
  if (probe::g_out == nullptr) probe::die(argv[1]);
  std::string scenario = argv[2];
  std::vector<std::string> args(argv + 3, argv + argc);
  struct Entry {
    const char* name;
    probe::Scenario run;
  };
  const Entry scenarios[] = {{"socket", scenario_socket},
                             {"connect", scenario_connect},
                             {"accept", scenario_accept},
                             {"override", scenario_override},
                             {"errors", scenario_errors},
                             {"threads", scenario_threads},
                             {"fork", scenario_fork},
                             {"signal", scenario_signal},
                             {"early", scenario_early},
                             {"seccomp", scenario_seccomp},
                             {"deepbind", scenario_deepbind},
                             {"phases", scenario_phases},
                             {"peers", scenario_peers},
                             {"inherited", probe::scenario_inherited},
                             {"handoff", probe::scenario_handoff},
                             {"efault", probe::scenario_efault},
                             {"forced-calls", probe::scenario_forced_calls},
                             {"forced-idle", probe::scenario_forced_idle},
                             {"cancel", probe::scenario_cancel},
                             {"cancel-full-stderr", probe::scenario_cancel_full_stderr},
                             {"reuse-number", probe::scenario_reuse_number},
                             {"connect-eintr", probe::scenario_connect_eintr},
                             {"small-stacks", probe::scenario_small_stacks},
                             {"short-of", probe::scenario_short_of},
                             {"address-space", probe::scenario_address_space},
                             {"reused-listener", probe::scenario_reused_listener},
                             {"storm", probe::scenario_storm},
                             {"spawn", probe::scenario_spawn},
                             {"exec-check", probe::scenario_exec_check},
                             {"stderr-socket", probe::scenario_stderr_socket},
                             {"log-signals", probe::scenario_log_signals},
                             {"log-file-lock", probe::scenario_log_file_lock},
                             {"log-longjmp", probe::scenario_log_longjmp},
                             {"received-listener", probe::scenario_received_listener},
                             {"reconnect", probe::scenario_reconnect},
                             {"listener-off", probe::scenario_listener_off},
                             {"listener-off-service", probe::scenario_listener_off_service},
                             {"activated", probe::scenario_activated}};
  for (const Entry& entry : scenarios) {
    if (scenario == entry.name) {
      int status = entry.run(args);
      fclose(probe::g_out);
      return status;
    }
  }
  fprintf(stderr, "kashim_probe: unknown scenario %s\n", scenario.c_str());
  return 2;
}
