// inspect_target: a process whose sockets the tests inspect and tune from outside. It does
// what it is told, one command per line on stdin, and answers one line on stdout, so that
// every step of a test is synchronised on a real answer. Its own view of a socket
// ("values FD", read with getsockopt inside this process) is the independent check of what
// `kashim apply` set.
//
//   listen ADDRESS          -> "fd N port P"   (a listener on a port the kernel picks)
//   connect ADDRESS PORT    -> "fd N"
//   accept FD               -> "fd N"
//   socket                  -> "fd N"          (TCP, neither bound nor connected)
//   keepalive FD            -> "ok"            (the program switches keep-alive on itself)
//   idle FD SECONDS         -> "ok"            (the program sets TCP_KEEPIDLE itself)
//   replace FD              -> "fd N"          (another TCP socket takes number FD)
//   pairs COUNT             -> "fd FIRST..LAST" (a listener and COUNT connections to it,
//                                                both ends held: 2 x COUNT + 1 sockets)
//   dup FD                  -> "fd N"          (the same socket under another number)
//   close FD                -> "ok"
//   own-table tcp|udp       -> "thread T fd N" (a thread unshares its descriptor table and
//                                                opens a TCP listener, or a UDP socket,
//                                                there; it then waits)
//   main-exits              -> "ok"            (the main thread calls pthread_exit; a new
//                                                thread answers, once the main one is a zombie)
//   values FD               -> "keepalive K idle I intvl V cnt C user_timeout U"
//   exit                    -> exits 0
// Errors answer "error WHAT: STRERROR". ADDRESS is numeric IPv4 or IPv6.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

namespace {

socklen_t make_address(const std::string& host, int port, sockaddr_storage* address) {
  *address = {};
  auto* in = reinterpret_cast<sockaddr_in*>(address);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(address);
  if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    return sizeof *in;
  }
  if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    return sizeof *in6;
  }
  return 0;
}

int option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  getsockopt(fd, level, name, &value, &length);
  return value;
}

int port_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6&>(address).sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port);
}

std::string failed(const char* what) {
  return std::string("error ") + what + ": " + std::strerror(errno);
}

int connect_to(const std::string& host, int port) {
  sockaddr_storage address;
  socklen_t length = make_address(host, port, &address);
  if (length == 0) return errno = EINVAL, -1;
  int fd = socket(address.ss_family, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int listen_on(const std::string& host) {
  sockaddr_storage address;
  socklen_t length = make_address(host, 0, &address);
  if (length == 0) return errno = EINVAL, -1;
  int fd = socket(address.ss_family, SOCK_STREAM, 0);
  if (fd >= 0 &&
      (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd, 4096) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string pairs(int count) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;  // 2 x COUNT + 1 descriptors: more than the usual 1024
  setrlimit(RLIMIT_NOFILE, &limit);
  int listener = listen_on("127.0.0.1");
  if (listener < 0) return failed("listen");
  int last = listener;
  for (int i = 0; i < count; ++i) {
    int client = connect_to("127.0.0.1", port_of(listener));
    if (client < 0) return failed("connect");
    int server = accept(listener, nullptr, nullptr);
    if (server < 0) return failed("accept");
    last = server;
  }
  return "fd " + std::to_string(listener) + ".." + std::to_string(last);
}

// A thread with a descriptor table of its own holding one socket the process's table does
// not (a TCP listener, or a UDP socket): "thread T fd N", once it is there. The thread then
// waits for the process to end.
std::string thread_with_own_table(bool tcp) {
  static int pipe_ends[2];
  static bool listener;
  listener = tcp;
  if (pipe(pipe_ends) != 0) return failed("pipe");
  pthread_t thread;
  const int created = pthread_create(
      &thread, nullptr,
      [](void*) -> void* {
        std::string answer = unshare(CLONE_FILES) != 0 ? failed("unshare") : "";
        if (answer.empty()) {
          const int fd = listener ? listen_on("127.0.0.1") : socket(AF_INET, SOCK_DGRAM, 0);
          answer = "thread " + std::to_string(gettid()) + " fd " + std::to_string(fd);
        }
        answer += "\n";
        if (write(pipe_ends[1], answer.data(), answer.size()) < 0) return nullptr;
        for (;;) pause();
      },
      nullptr);
  if (created != 0) return failed("pthread_create");
  char answer[128] = {};
  const ssize_t got = read(pipe_ends[0], answer, sizeof answer - 1);
  close(pipe_ends[0]);
  close(pipe_ends[1]);  // the thread's copy stays in its own table
  if (got <= 1) return failed("read");
  return std::string(answer, static_cast<std::size_t>(got - 1));
}

std::string run(const std::string& line) {
  std::istringstream words(line);
  std::string command, host;
  int number = 0;
  words >> command;
  if (command == "listen" && words >> host) {
    int fd = listen_on(host);
    return fd < 0 ? failed("listen")
                  : "fd " + std::to_string(fd) + " port " + std::to_string(port_of(fd));
  }
  if (command == "connect" && words >> host >> number) {
    int fd = connect_to(host, number);
    return fd < 0 ? failed("connect") : "fd " + std::to_string(fd);
  }
  if (command == "accept" && words >> number) {
    int fd = accept(number, nullptr, nullptr);
    return fd < 0 ? failed("accept") : "fd " + std::to_string(fd);
  }
  if (command == "socket") return "fd " + std::to_string(socket(AF_INET, SOCK_STREAM, 0));
  if (command == "own-table" && words >> host) return thread_with_own_table(host == "tcp");
  if (command == "keepalive" && words >> number) {
    int on = 1;
    return setsockopt(number, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) == 0 ? "ok"
                                                                             : failed("setsockopt");
  }
  if (command == "idle" && words >> number >> host) {
    int seconds = std::atoi(host.c_str());
    return setsockopt(number, IPPROTO_TCP, TCP_KEEPIDLE, &seconds, sizeof seconds) == 0
               ? "ok"
               : failed("setsockopt");
  }
  if (command == "replace" && words >> number) {
    int fresh = socket(AF_INET, SOCK_STREAM, 0);
    if (fresh < 0 || dup2(fresh, number) < 0) return failed("replace");
    close(fresh);
    return "fd " + std::to_string(number);
  }
  if (command == "pairs" && words >> number) return pairs(number);
  if (command == "dup" && words >> number) {
    const int copy = dup(number);
    return copy < 0 ? failed("dup") : "fd " + std::to_string(copy);
  }
  if (command == "close" && words >> number) return close(number) == 0 ? "ok" : failed("close");
  if (command == "values" && words >> number) {
    return "keepalive " + std::to_string(option(number, SOL_SOCKET, SO_KEEPALIVE)) + " idle " +
           std::to_string(option(number, IPPROTO_TCP, TCP_KEEPIDLE)) + " intvl " +
           std::to_string(option(number, IPPROTO_TCP, TCP_KEEPINTVL)) + " cnt " +
           std::to_string(option(number, IPPROTO_TCP, TCP_KEEPCNT)) + " user_timeout " +
           std::to_string(option(number, IPPROTO_TCP, TCP_USER_TIMEOUT));
  }
  return "error unknown command: " + line;
}

// The main thread's state letter in /proc (Z once it has exited and its process lives on).
char main_thread_state() {
  std::ifstream stat("/proc/self/task/" + std::to_string(getpid()) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() ? '?' : text[close + 2];
}

void serve(bool in_main_thread);

// Answers for the main thread once the kernel shows it exited: pthread_join returns when
// its thread ID is cleared, a little before the kernel releases its descriptor table.
void* take_over(void* main_thread) {
  pthread_join(*static_cast<pthread_t*>(main_thread), nullptr);
  for (int i = 0; i < 5000 && main_thread_state() != 'Z'; ++i) usleep(1000);
  std::cout << (main_thread_state() == 'Z' ? "ok" : "error main thread still running") << std::endl;
  serve(false);
  std::exit(0);
}

void serve(bool in_main_thread) {
  for (std::string line; std::getline(std::cin, line);) {
    if (line == "exit") std::exit(0);
    if (line == "main-exits" && in_main_thread) {
      static pthread_t main_thread = pthread_self(), successor;
      if (pthread_create(&successor, nullptr, take_over, &main_thread) != 0) {
        std::cout << failed("pthread_create") << std::endl;
        continue;
      }
      pthread_exit(nullptr);
    }
    std::cout << run(line) << std::endl;  // flushed: the test waits for it
  }
  std::exit(0);
}

}  // namespace

int main() {
  serve(true);
}
