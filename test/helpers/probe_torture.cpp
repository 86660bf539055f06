// The probe's torture scenarios: what a host program may do around the shim — many
// threads connecting while others fork and exec, vfork and posix_spawn children, a socket
// that takes the place of a closed stderr. Each reports what the kernel says, so a test can
// compare it with a run without the shim.
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "probe.hpp"

extern char** environ;

namespace probe {
namespace {

// What a fresh TCP socket of this process gets; every other socket is compared with it.
std::string fresh_socket_summary() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  std::string result = summary(fd);
  close(fd);
  return result;
}

// The argument vector that re-runs this probe as "exec-check REFERENCE".
struct ExecCheck {
  std::string reference;
  char self[16] = "/proc/self/exe";
  char out[10] = "/dev/null";
  char scenario[11] = "exec-check";
  char* argv[5];
  explicit ExecCheck(std::string expected) : reference(std::move(expected)) {
    argv[0] = self;
    argv[1] = out;
    argv[2] = scenario;
    argv[3] = reference.data();
    argv[4] = nullptr;
  }
};

std::string joined(const std::set<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

// Distinct values seen by several threads.
class Tally {
 public:
  void add(const std::string& value) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_.insert(value);
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return joined(values_);
  }

 private:
  std::mutex mutex_;
  std::set<std::string> values_;
};

int exit_status_of(pid_t child) {
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

// exec-check REFERENCE: exits 0 when a fresh socket here matches REFERENCE, 10 otherwise.
int scenario_exec_check(const std::vector<std::string>& args) {
  if (args.empty()) die("exec-check needs the expected summary");
  return fresh_socket_summary() == args[0] ? 0 : 10;
}

// storm CONNECTORS CONNECTIONS FORKERS FORKS: CONNECTORS threads each make CONNECTIONS
// loopback connections to a listener served by one more thread, while FORKERS threads each
// fork FORKS children that make a socket and then exec a fresh probe that makes another.
// Every connection, on both ends, and every child's sockets must match the first socket.
int scenario_storm(const std::vector<std::string>& args) {
  if (args.size() < 4) die("storm needs CONNECTORS CONNECTIONS FORKERS FORKS");
  const int connectors = atoi(args[0].c_str()), connections = atoi(args[1].c_str());
  const int forkers = atoi(args[2].c_str()), forks = atoi(args[3].c_str());
  const std::string reference = fresh_socket_summary();
  put("reference", reference);

  const int server = listener(AF_INET);
  // Room for every connection at once: an overflowing queue drops handshakes, and the
  // kernel's one-second retransmission would make the run slow, not wrong.
  if (listen(server, connectors * connections) != 0) die("listen");
  const in_port_t port = port_of(server);
  Tally accepted_summaries, connected_summaries;
  std::atomic<int> accepted{0}, connected{0}, failures{0}, children_ok{0};
  std::atomic<int> first_bad_child{0};
  std::vector<pthread_t> threads;

  auto start = [&threads](auto&& body) {
    using Body = std::decay_t<decltype(body)>;
    pthread_t id;
    auto* owned = new Body(std::move(body));
    int error = pthread_create(
        &id, nullptr,
        [](void* raw) -> void* {
          auto* run = static_cast<Body*>(raw);
          (*run)();
          delete run;
          return nullptr;
        },
        owned);
    if (error != 0) {
      errno = error;
      die("pthread_create");
    }
    threads.push_back(id);
  };

  const int total = connectors * connections;
  start([&] {
    for (int i = 0; i < total; ++i) {
      pollfd entry{server, POLLIN, 0};
      if (poll(&entry, 1, 20000) != 1) break;  // bounded: a stuck run ends, and fails
      int fd = i % 2 ? accept4(server, nullptr, nullptr, SOCK_CLOEXEC)
                     : accept(server, nullptr, nullptr);
      if (fd < 0) continue;
      ++accepted;
      accepted_summaries.add(summary(fd));
      close(fd);
    }
  });
  for (int t = 0; t < connectors; ++t) {
    start([&, t] {
      sockaddr_storage address = loopback(AF_INET, port);
      for (int i = 0; i < connections; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM | ((t + i) % 2 ? SOCK_CLOEXEC : 0), 0);
        if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), length_of(AF_INET)) != 0) {
          ++failures;
          if (fd >= 0) close(fd);
          continue;
        }
        ++connected;
        connected_summaries.add(summary(fd));
        close(fd);
      }
    });
  }
  ExecCheck exec_check(reference);
  for (int t = 0; t < forkers; ++t) {
    start([&] {
      for (int i = 0; i < forks; ++i) {
        pid_t child = fork();
        if (child < 0) die("fork");
        if (child == 0) {
          // Between fork and exec, as servers that set up sockets for a child do.
          int fd = socket(AF_INET, SOCK_STREAM, 0);
          if (fd < 0 || summary(fd) != exec_check.reference) _exit(20);
          execve(exec_check.self, exec_check.argv, environ);
          _exit(21);
        }
        int status = exit_status_of(child);
        if (status == 0) {
          ++children_ok;
        } else {
          int none = 0;
          first_bad_child.compare_exchange_strong(none, status);
        }
      }
    });
  }
  for (pthread_t id : threads) pthread_join(id, nullptr);
  put("connected", connected.load());
  put("accepted", accepted.load());
  put("connect_failures", failures.load());
  put("connected_summaries", connected_summaries.text());
  put("accepted_summaries", accepted_summaries.text());
  put("children_ok", children_ok.load());
  put("first_bad_child", first_bad_child.load());
  return 0;
}

// spawn: children started with vfork+exec and with posix_spawn check their own sockets
// against this process's; the parent's sockets afterwards are unchanged.
int scenario_spawn(const std::vector<std::string>&) {
  const std::string reference = fresh_socket_summary();
  put("reference", reference);
  ExecCheck exec_check(reference);
  pid_t child = vfork();
  if (child < 0) die("vfork");
  if (child == 0) {
    execve(exec_check.self, exec_check.argv, environ);
    _exit(21);
  }
  put("vfork_status", exit_status_of(child));
  int error = posix_spawn(&child, exec_check.self, nullptr, nullptr, exec_check.argv, environ);
  put("posix_spawn", outcome(error == 0 ? 0 : -1, error));
  if (error == 0) put("posix_spawn_status", exit_status_of(child));
  put("after", fresh_socket_summary());
  return 0;
}

// stderr-socket: fd 2 is closed and the next socket takes its number. The shim's log lines
// (connect, accept, a rewritten setsockopt) must never reach that connection: its peer
// reads until end of stream and reports how many bytes came.
int scenario_stderr_socket(const std::vector<std::string>&) {
  const int server = listener(AF_INET, /*raw=*/true);
  fflush(g_out);
  if (fileno(g_out) == STDERR_FILENO) {
    // Started with stderr closed: the results file took number 2. Move it, freeing 2.
    FILE* moved = fdopen(dup(STDERR_FILENO), "w");
    if (moved == nullptr) die("moving the results file");
    fclose(g_out);
    g_out = moved;
  } else {
    close(STDERR_FILENO);
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  put("fd", fd);
  sockaddr_storage address = loopback(AF_INET, port_of(server));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length_of(AF_INET)) != 0) {
    die("connect");
  }
  const int peer = accept(server, nullptr, nullptr);
  if (peer < 0) die("accept");
  set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1000);
  put("summary", summary(fd));
  if (shutdown(fd, SHUT_WR) != 0) die("shutdown");
  long received = 0;
  for (;;) {
    pollfd entry{peer, POLLIN, 0};
    if (poll(&entry, 1, 10000) != 1) die("no end of stream from the stderr socket");
    char buffer[512];
    ssize_t got = read(peer, buffer, sizeof buffer);
    if (got <= 0) break;
    received += got;
  }
  put("bytes_received", received);
  return 0;
}

}  // namespace probe
