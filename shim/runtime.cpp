#include "runtime.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "apply.hpp"
#include "real.hpp"
#include "text.hpp"

namespace kashim {
namespace {

using Line = FixedText<512>;

// --- The process's own sources for parse_config ---------------------------------------

// secure_getenv: a setuid or otherwise AT_SECURE process ignores the configuration, so an
// unprivileged user cannot steer a privileged program's sockets or log file.
const char* process_getenv(const char* name, void*) {
  return secure_getenv(name);
}

bool process_sysctl(const char* name, std::int64_t* value, void*) {
  FixedText<96> path;
  path.add("/proc/sys/net/ipv4/").add(name);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[32];
  ssize_t length = read(fd, text, sizeof text);
  close(fd);
  if (length <= 0) return false;
  const char* end = text + length;
  return std::from_chars(text, end, *value).ec == std::errc();
}

constexpr Sources kProcessSources = {process_getenv, process_sysctl, nullptr};

// --- Publication ------------------------------------------------------------------------
//
// Lock-free, so that no hook can ever wait: each thread that finds nothing published yet
// parses into a slot of its own and tries to publish it; the first to succeed wins and
// reports, the others use the winner's. A signal handler that interrupts a parse, or a
// child forked during one, simply takes another slot. Slots are .bss: untouched ones cost
// no memory.
constexpr int kSlots = 4;
Runtime g_slots[kSlots];
std::atomic<int> g_slots_taken{0};
const Runtime kInert{};  // Config's defaults: inactive

void announce(const Runtime& runtime) {
  const Config& config = runtime.config;
  if (config.check) {
    Report report;
    describe_config(config, kProcessSources, &report);
    write_stderr(runtime.stderr_at_start, report.view());
  } else if (!config.error.empty() && config.log_level >= LogLevel::kError) {
    write_log_line(config, runtime.stderr_at_start, config.error.view());
  } else if (config.log_level >= LogLevel::kDebug) {
    Line line;
    line.add("version " KASHIM_VERSION " started in process ").add(getpid());
    line.add(config.active ? ", active" : ", disabled");
    write_log_line(config, runtime.stderr_at_start, line.view());
  }
}

}  // namespace

std::atomic<const Runtime*> detail::g_published{nullptr};

const Runtime& detail::initialize() {
  int slot = g_slots_taken.fetch_add(1, std::memory_order_relaxed);
  if (slot >= kSlots) {
    // More simultaneous first calls than slots: wait briefly for a winner, else forward.
    for (int attempt = 0; attempt < 1000; ++attempt) {
      if (const Runtime* published = detail::g_published.load(std::memory_order_acquire)) {
        return *published;
      }
      sched_yield();
    }
    return kInert;
  }
  Runtime& fresh = g_slots[slot];
  const int saved_errno = errno;
  parse_config(kProcessSources, &fresh.config);
  fresh.stderr_at_start = identify_stderr();
  const Runtime* expected = nullptr;
  if (detail::g_published.compare_exchange_strong(expected, &fresh, std::memory_order_acq_rel,
                                                  std::memory_order_acquire)) {
    announce(fresh);
    expected = &fresh;
  }
  errno = saved_errno;
  return *expected;
}

namespace {

// --- Log lines ------------------------------------------------------------------------

bool logging(const Runtime& runtime, LogLevel level) {
  return runtime.config.log_level >= level;
}

void log_line(const Runtime& runtime, const Line& line) {
  write_log_line(runtime.config, runtime.stderr_at_start, line.view());
}

std::string_view errno_name(int error) {
  switch (error) {
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case EBADF:
      return "EBADF";
    case EINVAL:
      return "EINVAL";
    case ENOTSOCK:
      return "ENOTSOCK";
    case ENOPROTOOPT:
      return "ENOPROTOOPT";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    default:
      return "";
  }
}

void add_errno(Line* line, int error) {
  line->add("errno ").add(error);
  if (std::string_view name = errno_name(error); !name.empty()) line->add(" (").add(name).add(")");
}

void add_address(Line* line, const sockaddr* address, socklen_t length) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address == nullptr) {
    line->add("unknown peer");
  } else if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof v4);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    line->add(text).add(":").add(ntohs(v4.sin_port));
  } else if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof v6);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    line->add("[").add(text).add("]:").add(ntohs(v6.sin6_port));
  } else {
    line->add("a non-IP peer");
  }
}

int read_int_option(int fd, int level, int optname) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, optname, &value, &length) == 0 ? value : -1;
}

// Only the kernel knows what an existing descriptor is.
bool fd_is_tcp(int fd) {
  int domain = read_int_option(fd, SOL_SOCKET, SO_DOMAIN);
  return (domain == AF_INET || domain == AF_INET6) &&
         read_int_option(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP;
}

// The values the kernel holds for the socket now, read back rather than assumed: in
// fallback mode the program may have changed them.
void add_kernel_values(Line* line, int fd) {
  line->add(read_int_option(fd, SOL_SOCKET, SO_KEEPALIVE) > 0 ? "keep-alive on" : "keep-alive off");
  line->add(", idle ").add(read_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE)).add("s");
  line->add(", intvl ").add(read_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL)).add("s");
  line->add(", cnt ").add(read_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT));
  line->add(", user timeout ").add(read_int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT)).add("ms");
}

// The first socket the shim cannot tune is an error worth seeing once; the rest (a seccomp
// filter would refuse every one) only at info.
std::atomic<bool> g_apply_failure_reported{false};

void report_apply_failure(const Runtime& runtime, int fd, int error) {
  bool first = !g_apply_failure_reported.exchange(true, std::memory_order_relaxed);
  if (!logging(runtime, first ? LogLevel::kError : LogLevel::kInfo)) return;
  Line line;
  line.add("fd ").add(fd).add(": keep-alive options could not be set, ");
  add_errno(&line, error);
  line.add("; the program goes on untuned");
  if (first) line.add(" (further failures are logged at KASHIM_LOG=info)");
  log_line(runtime, line);
}

}  // namespace

void on_socket_created(int fd, int domain, int type, int protocol) {
  const Runtime& runtime = kashim::runtime();
  if (!runtime.config.active || !is_tcp_socket(domain, type, protocol)) return;
  if (int error = apply_keepalive(fd, runtime.config, real::setsockopt); error != 0) {
    report_apply_failure(runtime, fd, error);
  } else if (logging(runtime, LogLevel::kDebug)) {
    Line line;
    line.add("fd ").add(fd).add(domain == AF_INET6 ? " (TCP/IPv6)" : " (TCP/IPv4)");
    line.add(" created and tuned: ");
    add_kernel_values(&line, fd);
    log_line(runtime, line);
  }
}

void on_connect_returned(int fd, const sockaddr* peer, socklen_t peer_length, int result) {
  const Runtime& runtime = kashim::runtime();
  if (!runtime.config.active || !logging(runtime, LogLevel::kInfo)) return;
  const int saved_errno = errno;
  if ((result == 0 || saved_errno == EINPROGRESS) && fd_is_tcp(fd)) {
    Line line;
    line.add("fd ").add(fd).add(" connecting to ");
    add_address(&line, peer, peer_length);
    line.add(": ");
    add_kernel_values(&line, fd);
    log_line(runtime, line);
  }
  errno = saved_errno;
}

void on_accepted(int listener, int fd) {
  // Nothing to set: the kernel copies the listener's options, tuned when it was created,
  // to every connection accepted on it.
  const Runtime& runtime = kashim::runtime();
  if (!runtime.config.active || !logging(runtime, LogLevel::kInfo)) return;
  const int saved_errno = errno;
  if (fd_is_tcp(fd)) {
    sockaddr_storage peer;
    socklen_t length = sizeof peer;
    bool known = getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0;
    Line line;
    line.add("fd ").add(fd).add(" accepted from ");
    add_address(&line, known ? reinterpret_cast<sockaddr*>(&peer) : nullptr, length);
    line.add(" on fd ").add(listener).add(": ");
    add_kernel_values(&line, fd);
    log_line(runtime, line);
  }
  errno = saved_errno;
}

Replacement detail::keepalive_back_on(int fd) {
  const int saved_errno = errno;
  Replacement replacement;
  static constexpr int kOn = 1;
  if (fd_is_tcp(fd)) replacement = {&kOn, 0};
  errno = saved_errno;
  return replacement;
}

void detail::log_replacement(const Runtime& runtime, int fd, int optname, int requested,
                             int value) {
  Line line;
  line.add("fd ").add(fd).add(": the program's option ").add(optname).add(" = ");
  line.add(requested).add(" replaced by ").add(value);
  line.add(" (KASHIM_MODE=force)");
  log_line(runtime, line);
}

}  // namespace kashim
