// Scenarios where the shim once changed what a program observes: pointers the kernel
// refuses, pthread cancellation, a log destination that blocks.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "probe.hpp"

namespace probe {
namespace {

// Two pages, the second one unreadable: `unreadable()` is its start, and an object placed
// with `at_page_end(size)` ends exactly where readable memory ends.
struct Guarded {
  char* base = nullptr;
  long page = sysconf(_SC_PAGESIZE);
  Guarded() {
    void* mapped =
        mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) die("mmap");
    base = static_cast<char*>(mapped);
    if (mprotect(base + page, page, PROT_NONE) != 0) die("mprotect");
  }
  void* unreadable() const { return base + page; }
  void* at_page_end(std::size_t size) const { return base + page - size; }
};

int tcp_socket() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  return fd;
}

}  // namespace

// efault PORT: every call kashim hooks, with a pointer the kernel refuses or a length it
// rejects without reading, on sockets kashim tunes. Each outcome is reported; the test
// compares them with a run without the shim.
int scenario_efault(const std::vector<std::string>& args) {
  if (args.empty()) die("efault needs the port of a listener");
  const in_port_t port = static_cast<in_port_t>(atoi(args[0].c_str()));
  Guarded guarded;
  auto report = [](const std::string& key, long result) {
    const int error = errno;
    put(key, outcome(result, error));
  };
  int fd = tcp_socket();
  report("setsockopt_idle", setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, guarded.unreadable(), 4));
  report("setsockopt_keepalive", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, guarded.unreadable(), 4));
  report("setsockopt_user_timeout",
         setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, guarded.unreadable(), 4));
  report("connect_address", connect(fd, static_cast<sockaddr*>(guarded.unreadable()), 16));
  // A valid address at the very end of readable memory, passed with a length the kernel
  // refuses before reading anything (more than a sockaddr_storage).
  sockaddr_storage valid = loopback(AF_INET, port);
  void* last = guarded.at_page_end(sizeof(sockaddr_in));
  std::memcpy(last, &valid, sizeof(sockaddr_in));
  report("connect_long_length", connect(fd, static_cast<sockaddr*>(last), 200));
  report("sendto_fastopen",
         sendto(fd, "x", 1, MSG_FASTOPEN, static_cast<sockaddr*>(guarded.unreadable()), 16));
  report("sendmsg_fastopen", sendmsg(fd, static_cast<msghdr*>(guarded.unreadable()), MSG_FASTOPEN));
  // The same socket still connects normally afterwards.
  report("connect_valid", connect(fd, static_cast<sockaddr*>(last), sizeof(sockaddr_in)));
  put_keepalive("after_", fd);
  close(fd);
  return 0;
}

namespace {

struct CancelState {
  int listener = -1;
  std::atomic<int> accepted{-2};
};

void* accept_then_wait(void* argument) {
  auto* state = static_cast<CancelState*>(argument);
  int fd = accept(state->listener, nullptr, nullptr);
  state->accepted.store(fd);
  for (;;) pause();  // a cancellation point: waits to be cancelled
  return nullptr;
}

void* socket_with_cancel_pending(void* argument) {
  auto* result = static_cast<std::atomic<int>*>(argument);
  pthread_cancel(pthread_self());            // deferred: pending until a cancellation point
  int fd = socket(AF_INET, SOCK_STREAM, 0);  // not a cancellation point
  result->store(fd);
  pthread_testcancel();
  return nullptr;
}

void* blocked_accept(void* argument) {
  accept(*static_cast<int*>(argument), nullptr, nullptr);  // nobody connects
  return nullptr;
}

// pthread_timedjoin_np with a bound: true when the thread ended in time.
bool joined_within(pthread_t thread, int seconds) {
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  return pthread_timedjoin_np(thread, nullptr, &deadline) == 0;
}

}  // namespace

// cancel: pthread cancellation around hooked calls.
//   socket_returned: socket() with a cancellation pending returns its descriptor (it is no
//     cancellation point; the shim's logging must not make it one).
//   accept_returned: accept() of a queued connection returns to the program even when the
//     shim's log line cannot be written (stderr a full pipe): it must neither block nor
//     become a cancellation point; the thread is cancelled afterwards, where it waits.
//   blocked_accept_cancelled: a thread blocked in accept() can be cancelled (accept stays
//     a cancellation point, whatever the shim resolved behind it).
int scenario_cancel(const std::vector<std::string>&) {
  std::atomic<int> socket_result{-2};
  pthread_t thread;
  pthread_create(&thread, nullptr, socket_with_cancel_pending, &socket_result);
  const bool socket_joined = joined_within(thread, 10);
  put("socket_returned", socket_joined && socket_result.load() >= 0 ? 1 : 0);
  if (socket_result.load() >= 0) close(socket_result.load());

  CancelState state;
  state.listener = listener(AF_INET);
  int client = raw_client(AF_INET, port_of(state.listener));
  pthread_create(&thread, nullptr, accept_then_wait, &state);
  // Bounded: a shim blocked in its log line never lets accept() return.
  for (int i = 0; i < 200 && state.accepted.load() == -2; ++i) usleep(10000);
  put("accept_returned", state.accepted.load() >= 0 ? 1 : 0);
  pthread_cancel(thread);
  put("accept_thread_joined", joined_within(thread, 10) ? 1 : 0);
  close(client);

  int idle = listener(AF_INET);
  pthread_create(&thread, nullptr, blocked_accept, &idle);
  pthread_cancel(thread);
  put("blocked_accept_cancelled", joined_within(thread, 10) ? 1 : 0);
  return 0;
}

// cancel-full-stderr: the cancel scenario in a child whose stderr is a pipe that is full
// and never read, as with a stuck logger. Exits with the child's status.
int scenario_cancel_full_stderr(const std::vector<std::string>&) {
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) die("pipe");
  fcntl(pipe_ends[1], F_SETFL, O_NONBLOCK);
  static char block[4096];
  while (write(pipe_ends[1], block, sizeof block) > 0) {
  }
  fcntl(pipe_ends[1], F_SETFL, 0);  // blocking again, as a program's stderr would be
  fflush(g_out);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    dup2(pipe_ends[1], 2);
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) _exit(127);
    self[length] = '\0';
    execl(self, self, g_path, "cancel", nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace probe
