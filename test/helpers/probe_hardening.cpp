// Scenarios where the shim once changed what a program observes: pointers the kernel
// refuses, pthread cancellation, a log destination that blocks.
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <limits.h>

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

// forced-calls: the program's setsockopt() of each managed option with its value where the
// shim reads it (set_int_near), so that force mode makes the one call itself, on every
// kind of descriptor and with every value and length the kernel refuses. Each outcome, and
// errno after each success, is reported; the test compares them with a run without the shim.
int scenario_forced_calls(const std::vector<std::string>&) {
  const int tcp = tcp_socket();
  const int listening = tcp_socket();
  sockaddr_storage any = loopback(AF_INET, 0);
  if (bind(listening, reinterpret_cast<sockaddr*>(&any), length_of(AF_INET)) != 0 ||
      listen(listening, 1) != 0) {
    die("listen");
  }
  const int udp = socket(AF_INET, SOCK_DGRAM, 0);
  const int unix_stream = socket(AF_UNIX, SOCK_STREAM, 0);
  const int not_a_socket = open("/dev/null", O_RDONLY);
  if (udp < 0 || unix_stream < 0 || not_a_socket < 0) die("descriptors");
  auto call = [](const std::string& key, int fd, int level, int optname, int value,
                 socklen_t length = sizeof(int)) {
    errno = EDOM;
    const int result = set_int_near(fd, level, optname, value, length);
    const int error = errno;
    put(key, outcome(result, error));
    if (result == 0) put(key + "_errno", error == EDOM ? "kept" : strerror(error));
  };
  const socklen_t negative = 0x80000000u;  // INT_MIN as the kernel's int
  call("bad_fd", -1, IPPROTO_TCP, TCP_KEEPIDLE, 10);
  call("closed_fd", 999, IPPROTO_TCP, TCP_KEEPINTVL, 10);
  call("not_a_socket", not_a_socket, IPPROTO_TCP, TCP_KEEPIDLE, 10);
  call("udp", udp, IPPROTO_TCP, TCP_KEEPIDLE, 10);
  call("udp_keepalive", udp, SOL_SOCKET, SO_KEEPALIVE, 1);
  call("unix", unix_stream, IPPROTO_TCP, TCP_KEEPCNT, 2);
  call("listener", listening, IPPROTO_TCP, TCP_KEEPINTVL, 10);
  call("idle_zero", tcp, IPPROTO_TCP, TCP_KEEPIDLE, 0);
  call("idle_too_long", tcp, IPPROTO_TCP, TCP_KEEPIDLE, 32768);
  call("cnt_too_many", tcp, IPPROTO_TCP, TCP_KEEPCNT, 128);
  call("user_timeout_negative", tcp, IPPROTO_TCP, TCP_USER_TIMEOUT, -1);
  call("short_length", tcp, IPPROTO_TCP, TCP_KEEPIDLE, 10, 2);
  call("negative_length", tcp, IPPROTO_TCP, TCP_KEEPIDLE, 10, negative);
  call("keepalive_negative_length", tcp, SOL_SOCKET, SO_KEEPALIVE, 1, negative);
  call("long_length", tcp, IPPROTO_TCP, TCP_KEEPCNT, 2, 16);
  call("idle", tcp, IPPROTO_TCP, TCP_KEEPIDLE, 10);
  call("intvl", tcp, IPPROTO_TCP, TCP_KEEPINTVL, 10);
  call("user_timeout", tcp, IPPROTO_TCP, TCP_USER_TIMEOUT, 10);
  call("keepalive_on", tcp, SOL_SOCKET, SO_KEEPALIVE, 1);
  put_keepalive("tcp_", tcp);
  call("keepalive_off", tcp, SOL_SOCKET, SO_KEEPALIVE, 0);
  put("tcp_keepalive_at_end", get_int(tcp, SOL_SOCKET, SO_KEEPALIVE));
  put_keepalive("listener_", listening);
  return 0;
}

// forced-idle VALUE [bad-fd|udp]: one setsockopt(TCP_KEEPIDLE, VALUE) from where the shim
// reads it, on a TCP socket the shim never saw (made with the system call), a descriptor
// that is not open, or a UDP socket; its outcome, errno, and the idle the kernel holds.
int scenario_forced_idle(const std::vector<std::string>& args) {
  if (args.empty()) die("forced-idle needs a value");
  const std::string kind = args.size() > 1 ? args[1] : "tcp";
  close(socket(AF_UNIX, SOCK_STREAM, 0));  // the first hooked call reads the configuration
  int fd = -1;
  if (kind == "tcp") fd = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
  if (kind == "udp") fd = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0));
  errno = EDOM;
  const int result = set_int_near(fd, IPPROTO_TCP, TCP_KEEPIDLE, atoi(args[0].c_str()));
  const int error = errno;
  put("set", outcome(result, error));
  put("errno_kept", error == EDOM);
  if (kind == "tcp") put("idle", get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE));
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

namespace {

// A listener on every local address (so 127.0.0.2 reaches it too), on an ephemeral port.
int listener_on_any() {
  int fd = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, 64) != 0) {
    die("listener on any address");
  }
  return fd;
}

int connect_to(const char* host, in_port_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host, &address.sin_addr);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    die(std::string("connect to ") + host);
  }
  return fd;
}

}  // namespace

// reuse-number: with KASHIM_PEERS=127.0.0.1, a connection kashim tuned is closed and its
// number reused: by an AF_UNIX socket (socketpair), then by an excluded connection put
// there with dup2(). What the program sets on each must stand: unix_keepalive (after
// setting 0), excluded_idle (after setting 99).
int scenario_reuse_number(const std::vector<std::string>&) {
  int server = listener_on_any();
  const in_port_t port = port_of(server);
  int tuned = connect_to("127.0.0.1", port);
  put("tuned", summary(tuned));
  const int number = tuned;
  close(tuned);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) die("socketpair");
  if (pair[0] != number && dup2(pair[0], number) != number) die("dup2");
  set_int(number, SOL_SOCKET, SO_KEEPALIVE, 0);
  put("unix_keepalive", get_int(number, SOL_SOCKET, SO_KEEPALIVE));
  close(pair[0]);
  close(pair[1]);
  close(number);
  int excluded = connect_to("127.0.0.2", port);
  if (excluded != number) {
    if (dup2(excluded, number) != number) die("dup2");
    close(excluded);
  }
  set_int(number, IPPROTO_TCP, TCP_KEEPIDLE, 99);
  put("excluded_idle", get_int(number, IPPROTO_TCP, TCP_KEEPIDLE));
  put("excluded", summary(number));
  return 0;
}

namespace {
void on_alarm(int) {}
}  // namespace

// connect-eintr: with a filter, a blocking connect() interrupted by a signal (no
// SA_RESTART) goes on in the background, and the connection is decided all the same. The
// listener's queue is full, so the handshake waits until the alarm interrupts it.
int scenario_connect_eintr(const std::vector<std::string>&) {
  int server = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
  sockaddr_storage address = loopback(AF_INET, 0);
  if (bind(server, reinterpret_cast<sockaddr*>(&address), length_of(AF_INET)) != 0 ||
      listen(server, 0) != 0) {
    die("listener");
  }
  const in_port_t port = port_of(server);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {  // a backlog of 0 holds one; the rest wait in SYN_SENT
    int fd = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    sockaddr_storage target = loopback(AF_INET, port);
    syscall(SYS_connect, fd, &target, length_of(AF_INET));
    fillers.push_back(fd);
  }
  struct sigaction action {};
  action.sa_handler = on_alarm;  // no SA_RESTART
  sigaction(SIGALRM, &action, nullptr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_storage target = loopback(AF_INET, port);
  alarm(1);
  const int result = connect(fd, reinterpret_cast<sockaddr*>(&target), length_of(AF_INET));
  const int error = errno;
  alarm(0);
  put("connect", outcome(result, error));
  put("after", summary(fd));
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

namespace probe {
namespace {

// A stack for `small-stacks`: `size` bytes painted with one byte value above an unwritable
// guard page, so that running past its end is a SIGSEGV rather than a write into other memory.
class PaintedStack {
 public:
  explicit PaintedStack(std::size_t size) : size_(size) {
    const long page = sysconf(_SC_PAGESIZE);
    void* mapped =
        mmap(nullptr, size_ + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) die("mmap");
    if (mprotect(mapped, page, PROT_NONE) != 0) die("mprotect");
    base_ = static_cast<unsigned char*>(mapped) + page;
    memset(base_, kPaint, size_);
  }
  void* base() const { return base_; }
  std::size_t size() const { return size_; }
  // How deep anything ran: stacks grow down, from base + size.
  std::size_t used() const {
    std::size_t untouched = 0;
    while (untouched < size_ && base_[untouched] == kPaint) ++untouched;
    return size_ - untouched;
  }

 private:
  static constexpr unsigned char kPaint = 0xA5;
  unsigned char* base_ = nullptr;
  std::size_t size_;
};

int g_small_stack_socket = -1;
int g_small_stack_set = -1;
int g_small_stack_errno = 0;
const char* g_small_stack_calls = "socket";
int g_raw_listener = -1;   // a listener the shim has not seen, with a connection queued
in_port_t g_raw_port = 0;  // another one, to connect to

// The process's first hooked calls, async-signal-safe ones, as a program's handler or small
// thread might make them: a TCP socket switched to keep-alive; a connection accepted from a
// listener the process was handed; a connection made.
void first_hooked_calls() {
  const std::string calls = g_small_stack_calls;
  const int on = 1;
  if (calls == "accept") {
    g_small_stack_socket = accept(g_raw_listener, nullptr, nullptr);
  } else {
    g_small_stack_socket = socket(AF_INET, SOCK_STREAM, 0);
  }
  if (calls == "connect") {
    const sockaddr_storage address = loopback(AF_INET, g_raw_port);
    g_small_stack_set = connect(g_small_stack_socket, reinterpret_cast<const sockaddr*>(&address),
                                length_of(AF_INET));
  } else {
    g_small_stack_set = setsockopt(g_small_stack_socket, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  }
  g_small_stack_errno = errno;
}

}  // namespace

// small-stacks signal|thread [socket|accept|connect]: the first hooked calls (the shim's
// configuration is read then) made in a signal handler on an alternate stack of
// sysconf(_SC_SIGSTKSZ) bytes, or in a thread on a stack of PTHREAD_STACK_MIN plus that;
// prints how many bytes of it were used.
int scenario_small_stacks(const std::vector<std::string>& args) {
  const bool in_thread = !args.empty() && args[0] == "thread";
  static std::string calls = args.size() > 1 ? args[1] : "socket";
  g_small_stack_calls = calls.c_str();
  g_raw_listener = listener(AF_INET, /*raw=*/true);
  const int queued = raw_client(AF_INET, port_of(g_raw_listener));
  const int target = listener(AF_INET, /*raw=*/true);
  g_raw_port = port_of(target);
  const long signal_stack = sysconf(_SC_SIGSTKSZ);
  const std::size_t size = (signal_stack > 0 ? static_cast<std::size_t>(signal_stack) : 16384) +
                           (in_thread ? static_cast<std::size_t>(PTHREAD_STACK_MIN) : 0);
  PaintedStack stack(size);
  if (in_thread) {
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    if (pthread_attr_setstack(&attributes, stack.base(), stack.size()) != 0) die("setstack");
    pthread_t thread;
    if (pthread_create(
            &thread, &attributes,
            [](void*) -> void* {
              first_hooked_calls();
              return nullptr;
            },
            nullptr) != 0) {
      die("pthread_create");
    }
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attributes);
  } else {
    stack_t alternate{};
    alternate.ss_sp = stack.base();
    alternate.ss_size = stack.size();
    if (sigaltstack(&alternate, nullptr) != 0) die("sigaltstack");
    struct sigaction action {};
    action.sa_handler = [](int) { first_hooked_calls(); };
    action.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &action, nullptr);
    raise(SIGUSR1);
  }
  put("size", static_cast<long>(stack.size()));
  put("used", static_cast<long>(stack.used()));
  put("set", outcome(g_small_stack_set, g_small_stack_errno));
  if (g_small_stack_socket >= 0) put("after", summary(g_small_stack_socket));
  close(queued);
  close(target);
  return 0;
}

}  // namespace probe

namespace probe {

// short-of memory|descriptors: the process's first sockets made while it can map no memory
// (RLIMIT_AS) or open no descriptor beyond the socket (RLIMIT_NOFILE), eight times, then one
// more once the limit is back: what each socket got. And a socket made while short, with
// the program's own keep-alive (idle 5), connected once the limit is back.
int scenario_short_of(const std::vector<std::string>& args) {
  const int resource = !args.empty() && args[0] == "descriptors" ? RLIMIT_NOFILE : RLIMIT_AS;
  rlimit limit{};
  if (getrlimit(resource, &limit) != 0) die("getrlimit");
  put("premise", "");  // the results file's buffer, before memory runs short
  fflush(g_out);
  // No memory at all; or room for one descriptor: the program's socket takes it, so that
  // anything the shim opens then fails with EMFILE.
  const int lowest_free = dup(0);
  close(lowest_free);
  const rlimit none = {resource == RLIMIT_NOFILE ? static_cast<rlim_t>(lowest_free + 1) : 0,
                       limit.rlim_max};
  if (lowest_free < 0 || setrlimit(resource, &none) != 0) die("setrlimit");
  std::string short_results;
  for (int i = 0; i < 8; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const int error = errno;
    short_results +=
        (fd >= 0 ? std::to_string(get_int(fd, SOL_SOCKET, SO_KEEPALIVE)) : outcome(fd, error)) +
        " ";
    if (fd >= 0) close(fd);
  }
  // One more, kept, on which the program chooses its own keep-alive, and connects later.
  const int own = socket(AF_INET, SOCK_STREAM, 0);
  if (own < 0) die("socket while short");
  set_int(own, SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int(own, IPPROTO_TCP, TCP_KEEPIDLE, 5);
  if (setrlimit(resource, &limit) != 0) die("setrlimit back");
  put("short", short_results);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  put("after", summary(fd));
  const int target = listener(AF_INET, /*raw=*/true);
  const sockaddr_storage address = loopback(AF_INET, port_of(target));
  if (connect(own, reinterpret_cast<const sockaddr*>(&address), length_of(AF_INET)) != 0) {
    die("connect");
  }
  put("own", summary(own));
  return 0;
}

}  // namespace probe

namespace probe {
namespace {

// The process's address space (VmSize), in KiB.
long address_space_kib() {
  FILE* status = fopen("/proc/self/statm", "r");
  if (status == nullptr) die("/proc/self/statm");
  long pages = 0;
  if (fscanf(status, "%ld", &pages) != 1) die("statm");
  fclose(status);
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

// address-space: how much the address space grows over the first connections made and
// accepted (each end given the program's own keep-alive on the listener), in KiB.
int scenario_address_space(const std::vector<std::string>&) {
  put("premise", "");  // the results file's buffer first
  const long before = address_space_kib();
  const int server = listener(AF_INET);
  set_int(server, SOL_SOCKET, SO_KEEPALIVE, 1);
  for (int i = 0; i < 4; ++i) {
    const int client = socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_storage address = loopback(AF_INET, port_of(server));
    if (connect(client, reinterpret_cast<const sockaddr*>(&address), length_of(AF_INET)) != 0) {
      die("connect");
    }
    const int accepted = accept(server, nullptr, nullptr);
    if (accepted < 0) die("accept");
    close(client);
    close(accepted);
  }
  put("grown_kib", address_space_kib() - before);
  return 0;
}

}  // namespace probe
