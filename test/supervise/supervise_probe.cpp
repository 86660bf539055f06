// The program the supervisor's tests run under kashim-supervise, linked statically so that
// no preload could reach it: `supervise_probe RESULTS SCENARIO [ARGS]`. Each scenario makes
// the calls under test and writes key=value results (values read back from the kernel) to
// the file RESULTS.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "supervise_probe.hpp"

namespace supervise_probe {

FILE* g_out = nullptr;
const char* g_self = nullptr;
const char* g_results = nullptr;

void put(const std::string& key, const std::string& value) {
  std::fprintf(g_out, "%s=%s\n", key.c_str(), value.c_str());
  std::fflush(g_out);
}
void put(const std::string& key, long value) {
  put(key, std::to_string(value));
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "supervise_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(3);
}

int get_int(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1;
}

// "1/60/10/6/0": keep-alive, idle, interval, count, user timeout, as the kernel has them.
std::string values_of(int fd) {
  return std::to_string(get_int(fd, SOL_SOCKET, SO_KEEPALIVE)) + "/" +
         std::to_string(get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE)) + "/" +
         std::to_string(get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL)) + "/" +
         std::to_string(get_int(fd, IPPROTO_TCP, TCP_KEEPCNT)) + "/" +
         std::to_string(get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
}

std::string outcome(long result, int error) {
  return result >= 0 ? "ok" : std::string("fail:") + std::to_string(error);
}

sockaddr_in loopback(in_port_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

int make_listener() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, 64) != 0) {
    die("listener");
  }
  return fd;
}

sockaddr_in local_address(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address;
}

in_port_t port_of(int fd) {
  return ntohs(local_address(fd).sin_port);
}

int connect_to(in_port_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(port);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    die("connect");
  }
  return fd;
}

}  // namespace supervise_probe

namespace {

using namespace supervise_probe;

// connect: a connection both ways on loopback; the client made with connect(), the server
// side accepted from a listener made with listen().
int scenario_connect(const std::vector<std::string>&) {
  int server = make_listener();
  int client = connect_to(port_of(server));
  int accepted = accept(server, nullptr, nullptr);
  if (accepted < 0) die("accept");
  put("client", values_of(client));
  put("accepted", values_of(accepted));
  return 0;
}

// set: the program sets its own keep-alive values on a connected socket, as Go does right
// after connect; what each call returned and what the kernel holds afterwards.
int scenario_set(const std::vector<std::string>&) {
  int server = make_listener();
  int fd = connect_to(port_of(server));
  struct Setting {
    const char* name;
    int level, name_value, value;
  } settings[] = {{"keepalive", SOL_SOCKET, SO_KEEPALIVE, 0},
                  {"idle", IPPROTO_TCP, TCP_KEEPIDLE, 1000},
                  {"intvl", IPPROTO_TCP, TCP_KEEPINTVL, 1},
                  {"cnt", IPPROTO_TCP, TCP_KEEPCNT, 10},
                  {"user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT, 1234}};
  for (const Setting& setting : settings) {
    errno = 4242;
    int result = setsockopt(fd, setting.level, setting.name_value, &setting.value, sizeof(int));
    put(std::string("set_") + setting.name,
        outcome(result, errno) + " errno:" + std::to_string(errno));
  }
  put("after", values_of(fd));
  return 0;
}

// unrelated N: calls the filter must let through without a notification: getpid, UDP
// sendto (no MSG_FASTOPEN), and setsockopt of options kashim does not manage.
int scenario_unrelated(const std::vector<std::string>& args) {
  const int count = args.empty() ? 100 : std::atoi(args[0].c_str());
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  int receiver = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (udp < 0 || receiver < 0 ||
      bind(receiver, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(receiver, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    die("udp");
  }
  int tcp = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  int sent = 0, set = 0;
  for (int i = 0; i < count; ++i) {
    syscall(SYS_getpid);
    sent += sendto(udp, "x", 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&address),
                   sizeof address) == 1;
    set += setsockopt(tcp, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0;
    set += setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0;
  }
  put("sent", sent);
  put("set", set);
  return 0;
}

// threads N: N threads connect at the same moment; how many connections came out tuned
// (keep-alive on with the idle time given as the second argument).
int scenario_threads(const std::vector<std::string>& args) {
  const int count = args.size() > 0 ? std::atoi(args[0].c_str()) : 16;
  static int expected_idle = args.size() > 1 ? std::atoi(args[1].c_str()) : 60;
  static in_port_t port = 0;
  static pthread_barrier_t start;
  int server = make_listener();
  port = port_of(server);
  pthread_barrier_init(&start, nullptr, static_cast<unsigned>(count));
  std::vector<pthread_t> threads(static_cast<std::size_t>(count));
  auto body = [](void*) -> void* {
    pthread_barrier_wait(&start);
    int fd = connect_to(port);
    bool tuned = get_int(fd, SOL_SOCKET, SO_KEEPALIVE) == 1 &&
                 get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) == expected_idle;
    return reinterpret_cast<void*>(static_cast<std::intptr_t>(tuned));
  };
  for (pthread_t& thread : threads) pthread_create(&thread, nullptr, body, nullptr);
  int tuned = 0;
  for (pthread_t& thread : threads) {
    void* result = nullptr;
    pthread_join(thread, &result);
    tuned += result != nullptr;
  }
  put("tuned", tuned);
  return 0;
}

// retry [own-idle]: one socket connects twice, first to a port nobody listens on (refused at
// once), then to a listener on 127.0.0.2; its values after the second. With own-idle, the
// program sets TCP_KEEPIDLE 11 itself between the two.
int scenario_retry(const std::vector<std::string>& arguments) {
  const int closed = socket(AF_INET, SOCK_STREAM, 0);  // bound, not listening: refuses
  sockaddr_in refusing = loopback(0);
  sockaddr_in elsewhere = loopback(0);
  elsewhere.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
  const int server = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(closed, reinterpret_cast<sockaddr*>(&refusing), sizeof refusing) != 0 ||
      bind(server, reinterpret_cast<sockaddr*>(&elsewhere), sizeof elsewhere) != 0 ||
      listen(server, 4) != 0) {
    die("listeners");
  }
  refusing.sin_port = htons(port_of(closed));
  elsewhere.sin_port = htons(port_of(server));
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  const int first = connect(client, reinterpret_cast<sockaddr*>(&refusing), sizeof refusing);
  put("first", outcome(first, errno));
  const int own_idle = 11;
  if (!arguments.empty() && arguments[0] == "own-idle" &&
      setsockopt(client, IPPROTO_TCP, TCP_KEEPIDLE, &own_idle, sizeof own_idle) != 0) {
    die("setsockopt");
  }
  const int second = connect(client, reinterpret_cast<sockaddr*>(&elsewhere), sizeof elsewhere);
  put("second", outcome(second, errno));
  put("values", values_of(client));
  return 0;
}

// unshared-table: a thread with a descriptor table of its own (unshare(CLONE_FILES)) holds a
// pipe under the number of the process's TCP socket, and sets TCP_KEEPIDLE on it: the
// kernel refuses (ENOTSOCK), and the process's socket keeps its own idle time.
int scenario_unshared_table(const std::vector<std::string>&) {
  static int shared = socket(AF_INET, SOCK_STREAM, 0);
  static int result = 0, error = 0;
  pthread_t thread;
  pthread_create(
      &thread, nullptr,
      [](void*) -> void* {
        int ends[2];
        if (unshare(CLONE_FILES) != 0 || pipe(ends) != 0 || dup2(ends[0], shared) != shared) {
          error = -1;
          return nullptr;
        }
        const int idle = 30;
        result = setsockopt(shared, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        error = result == 0 ? 0 : errno;
        return nullptr;
      },
      nullptr);
  pthread_join(thread, nullptr);
  put("thread", result == 0 ? "ok" : error == ENOTSOCK ? "ENOTSOCK" : std::to_string(error));
  put("process_idle", get_int(shared, IPPROTO_TCP, TCP_KEEPIDLE));
  return 0;
}

// fastopen: connections opened by sendto() and sendmsg() with MSG_FASTOPEN (TCP Fast Open
// connects without connect()).
int scenario_fastopen(const std::vector<std::string>&) {
  int server = make_listener();
  sockaddr_in address = loopback(port_of(server));
  int by_sendto = socket(AF_INET, SOCK_STREAM, 0);
  ssize_t sent = sendto(by_sendto, "x", 1, MSG_FASTOPEN, reinterpret_cast<sockaddr*>(&address),
                        sizeof address);
  put("sendto", outcome(sent, errno));
  put("sendto_values", values_of(by_sendto));
  int by_sendmsg = socket(AF_INET, SOCK_STREAM, 0);
  char byte = 'x';
  iovec piece{&byte, 1};
  msghdr message{};
  message.msg_name = &address;
  message.msg_namelen = sizeof address;
  message.msg_iov = &piece;
  message.msg_iovlen = 1;
  sent = sendmsg(by_sendmsg, &message, MSG_FASTOPEN);
  put("sendmsg", outcome(sent, errno));
  put("sendmsg_values", values_of(by_sendmsg));
  return 0;
}

// accept-inherited FD: accepts a connection on listener FD, inherited from the test (made
// without the supervisor seeing its listen()).
int scenario_accept_inherited(const std::vector<std::string>& args) {
  const int listener = std::atoi(args.at(0).c_str());
  int client = connect_to(port_of(listener));
  int accepted = accept(listener, nullptr, nullptr);
  if (client < 0 || accepted < 0) die("accept-inherited");
  put("accepted", values_of(accepted));
  return 0;
}

// fork-exec: a forked child connects, and a child that execs this program again connects:
// both still under the filter, both tuned.
int scenario_fork_exec(const std::vector<std::string>&) {
  int server = make_listener();
  pid_t child = fork();
  if (child == 0) {
    int fd = connect_to(port_of(server));
    put("forked", values_of(fd));
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  child = fork();
  if (child == 0) {
    std::string port = std::to_string(port_of(server));
    execl(g_self, g_self, g_results, "connect-to", port.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  waitpid(child, &status, 0);
  put("exec_status", status);
  return 0;
}

int scenario_connect_to(const std::vector<std::string>& args) {
  int fd = connect_to(static_cast<in_port_t>(std::atoi(args.at(0).c_str())));
  put("execed", values_of(fd));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace supervise_probe;
  if (argc < 3) {
    std::fprintf(stderr, "usage: supervise_probe RESULTS SCENARIO [ARGS...]\n");
    return 2;
  }
  g_self = argv[0];
  g_results = argv[1];
  g_out = std::fopen(argv[1], "a");
  if (g_out == nullptr) die(argv[1]);
  const std::string scenario = argv[2];
  const std::vector<std::string> args(argv + 3, argv + argc);
  struct Entry {
    const char* name;
    int (*run)(const std::vector<std::string>&);
  } const scenarios[] = {{"connect", scenario_connect},
                         {"set", scenario_set},
                         {"unrelated", scenario_unrelated},
                         {"threads", scenario_threads},
                         {"fork-exec", scenario_fork_exec},
                         {"fastopen", scenario_fastopen},
                         {"unshared-table", scenario_unshared_table},
                         {"retry", scenario_retry},
                         {"accept-inherited", scenario_accept_inherited},
                         {"connect-to", scenario_connect_to},
                         {"wait-signal", scenario_wait_signal},
                         {"exit", scenario_exit},
                         {"kill", scenario_kill},
                         {"environment", scenario_environment},
                         {"sigchld", scenario_sigchld},
                         {"read-line", scenario_read_line},
                         {"kept-across-exec", scenario_kept_across_exec},
                         {"record-lock", scenario_record_lock},
                         {"process-group", scenario_process_group},
                         {"signal-with-child", scenario_signal_with_child},
                         {"orphan", scenario_orphan},
                         {"daemon", scenario_daemon},
                         {"accept-forms", scenario_accept_forms},
                         {"accept-nonblocking", scenario_accept_nonblocking},
                         {"accept-signal", scenario_accept_signal},
                         {"accept-shutdown", scenario_accept_shutdown},
                         {"accept-two-threads", scenario_accept_two_threads},
                         {"accept-emfile", scenario_accept_emfile},
                         {"accept-storm", scenario_accept_storm},
                         {"accept-ipv6", scenario_accept_ipv6},
                         {"accept-fsuid", scenario_accept_fsuid},
                         {"accept-nondumpable", scenario_accept_nondumpable},
                         {"accept-across-a-stop", scenario_accept_across_a_stop},
                         {"accept-many-waiting", scenario_accept_many_waiting},
                         {"accept-emfile-waiting", scenario_accept_emfile_waiting},
                         {"daemon-accept", scenario_daemon_accept}};
  for (const Entry& entry : scenarios) {
    if (scenario == entry.name) return entry.run(args);
  }
  std::fprintf(stderr, "supervise_probe: unknown scenario '%s'\n", scenario.c_str());
  return 2;
}
