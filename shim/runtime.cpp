#include "runtime.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "decide.hpp"
#include "log_line.hpp"
#include "process_sources.hpp"
#include "real.hpp"
#include "sockets.hpp"
#include "text.hpp"

namespace kashim {
namespace {

using Line = LogLine;

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
    describe_config(config, process_sources(), &report);
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
  // A setuid or otherwise privileged (AT_SECURE) process is left exactly as it is, with the
  // shim inert and silent: its environment and stderr may belong to an unprivileged user.
  if (getauxval(AT_SECURE) == 0) parse_config(process_sources(), &fresh.config);
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

// --- Per-descriptor records (only with a filter) ----------------------------------------
//
// One byte per descriptor number: whether the shim tuned the connection behind it (force
// mode then keeps the values) and which options the program set itself (fallback mode then
// leaves those alone). Reset whenever socket() or accept() hands the number out. A number
// obtained through dup() or SCM_RIGHTS carries no record of its own. .bss: only the pages
// of numbers in use are ever touched.
constexpr int kFdRecords = 1 << 20;  // the kernel's default limit, fs.nr_open
constexpr OptionBits kTunedRecord = 0x80;
static_assert((kAllOptionBits & kTunedRecord) == 0, "the option bits leave room");
std::atomic<OptionBits> g_fd_records[kFdRecords];

OptionBits record_of(int fd) {
  return fd >= 0 && fd < kFdRecords ? g_fd_records[fd].load(std::memory_order_relaxed) : 0;
}
void reset_record(int fd) {
  if (fd >= 0 && fd < kFdRecords) g_fd_records[fd].store(0, std::memory_order_relaxed);
}
void add_to_record(int fd, OptionBits bits) {
  if (fd >= 0 && fd < kFdRecords) g_fd_records[fd].fetch_or(bits, std::memory_order_relaxed);
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

struct Peer {
  sockaddr_storage address{};
  socklen_t length = 0;  // 0: unknown
  const sockaddr* get() const {
    return length == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&address);
  }
};

Peer peer_of(int fd) {
  Peer peer;
  socklen_t length = sizeof peer.address;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer.address), &length) == 0) {
    peer.length = length;
  }
  return peer;
}

// With a filter: tunes one connection if the configuration wants it, and says why at info.
// `program_set` names the options the program set itself (its own on the socket, or those
// on the listener an accepted connection inherits); fallback mode leaves them alone.
void decide(const Runtime& runtime, int fd, Direction side, const Peer& peer,
            OptionBits program_set, std::string_view event) {
  const Config& config = runtime.config;
  const bool wanted = wants_connection(config, side, peer.get(), peer.length);
  if (!(wanted || logging(runtime, LogLevel::kInfo)) || !fd_is_tcp(fd)) return;
  int error = 0;
  if (wanted) {
    error = apply_keepalive(fd, config, real::setsockopt, forcing(config) ? 0 : program_set);
    if (error != 0) {
      report_apply_failure(runtime, fd, error);
    } else {
      add_to_record(fd, kTunedRecord);
    }
  }
  if (error != 0 || !logging(runtime, LogLevel::kInfo)) return;
  Line line;
  line.add("fd ").add(fd).add(" ").add(event).add(" ");
  add_address(&line, peer.get(), peer.length);
  if (!wanted) {
    line.add(!direction_allows(config, side)
                 ? ": not tuned (KASHIM_DIRECTION="
                 : ": not tuned (no KASHIM_PEERS pattern matches; KASHIM_DIRECTION=");
    line.add(direction_name(config.direction)).add(")");
  } else {
    line.add(": tuned");
    if (int index = config.peers.match(peer.get(), peer.length); index >= 0) {
      PatternText pattern;
      describe_peer_pattern(config.peers.patterns[index], &pattern);
      line.add(" (KASHIM_PEERS ").add(pattern.view()).add(")");
    }
    line.add(", ");
    add_kernel_values(&line, fd);
  }
  log_line(runtime, line);
}

// Connections that finished their handshake before the shim tuned an inherited listener
// were cloned from it untuned (systemd starts a service because one arrived). The kernel
// says how many wait in the accept queue (tcpi_unacked, for a listener), and accept() hands
// them out first, in order: that many accepted connections are tuned one by one. Written by
// the constructor only; accept() on a listener made under the shim finds no entry.
struct QueuedBeforeTuning {
  std::atomic<int> listener{-1};
  std::atomic<int> remaining{0};
};
constexpr int kInheritedListeners = 16;
QueuedBeforeTuning g_queued[kInheritedListeners];
std::atomic<int> g_queued_entries{0};

int remember_queued_connections(int listener) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return 0;
  int entry = g_queued_entries.load(std::memory_order_relaxed);
  if (info.tcpi_unacked == 0 || entry == kInheritedListeners) return 0;
  g_queued[entry].listener.store(listener, std::memory_order_relaxed);
  g_queued[entry].remaining.store(static_cast<int>(info.tcpi_unacked), std::memory_order_relaxed);
  g_queued_entries.store(entry + 1, std::memory_order_release);
  return static_cast<int>(info.tcpi_unacked);
}

// True for a connection accepted from the queue an inherited listener had when tuned.
bool was_queued_before_tuning(int listener) {
  int entries = g_queued_entries.load(std::memory_order_acquire);
  for (int i = 0; i < entries; ++i) {
    if (g_queued[i].listener.load(std::memory_order_relaxed) != listener) continue;
    int remaining = g_queued[i].remaining.load(std::memory_order_relaxed);
    while (remaining > 0) {
      if (g_queued[i].remaining.compare_exchange_weak(remaining, remaining - 1,
                                                      std::memory_order_relaxed)) {
        return true;
      }
    }
  }
  return false;
}

// An inherited TCP socket. Without a filter it is tuned like one made under the shim; with
// one, a listener is left to accept() and an unconnected socket to connect(), which decide
// connection by connection, while a connection (inetd, systemd's Accept=yes) is decided here.
void tune_inherited(const Runtime& runtime, int fd) {
  const Config& config = runtime.config;
  if (!fd_is_tcp(fd)) return;
  // Fallback mode: a socket whose owner switched keep-alive on already has its settings.
  if (!forcing(config) && read_int_option(fd, SOL_SOCKET, SO_KEEPALIVE) > 0) return;
  if (config.selective) {
    if (read_int_option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1) return;
    if (Peer peer = peer_of(fd); peer.length != 0) {
      decide(runtime, fd, Direction::kIn, peer, 0, "inherited, connected to");
    }
    return;
  }
  if (int error = apply_keepalive(fd, config, real::setsockopt); error != 0) {
    report_apply_failure(runtime, fd, error);
    return;
  }
  const bool listening = read_int_option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1;
  const int queued = listening ? remember_queued_connections(fd) : 0;
  // Debug, not info: every process of a script inherits the same listener and tunes it again.
  if (logging(runtime, LogLevel::kDebug)) {
    Line line;
    line.add("fd ").add(fd).add(listening ? " inherited (TCP listener" : " inherited (TCP socket");
    if (queued > 0) line.add(", queued before tuning: ").add(queued);
    line.add(") and tuned: ");
    add_kernel_values(&line, fd);
    log_line(runtime, line);
  }
}

// Every open descriptor lies below the size of the process's descriptor table, 64 in most
// fresh processes. select() reveals the size: it ignores a number at or beyond it, while a
// closed number below it is EBADF. So when select() accepts `bound` and fcntl() finds it
// closed, nothing is open at or above it. Anything less clear (the number is open, a kernel
// that answers otherwise) falls back to `limit`, so that nothing is ever missed.
nfds_t open_fd_bound(nfds_t limit) {
  for (nfds_t bound : {64, 256}) {
    if (bound >= limit) break;
    fd_set set;
    FD_ZERO(&set);
    FD_SET(static_cast<int>(bound), &set);
    timeval no_wait{0, 0};
    if (select(static_cast<int>(bound) + 1, &set, nullptr, nullptr, &no_wait) >= 0 &&
        fcntl(static_cast<int>(bound), F_GETFD) < 0 && errno == EBADF) {
      return bound;
    }
  }
  return limit;
}

// Calls `visit` for every open descriptor below 1024 (FD_SETSIZE), where inherited sockets
// live: systemd passes them from 3 up, inetd as 0 and 1. poll() says which numbers are
// open; reading /proc/self/fd instead cost a fresh process ~40 us, a sixth of its start,
// and polling all 1024 numbers ~10 us where open_fd_bound() usually allows 64. In batches
// of 64, so that the constructor's stack stays small.
template <typename Visit>
void for_each_open_fd(Visit visit) {
  // poll() refuses more entries than RLIMIT_NOFILE allows, and no descriptor lies beyond it.
  rlimit limit{};
  nfds_t count = 1024;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < count) count = limit.rlim_cur;
  count = open_fd_bound(count);
  constexpr nfds_t kBatch = 64;
  for (nfds_t first = 0; first < count; first += kBatch) {
    pollfd entries[kBatch];
    const nfds_t batch = std::min(kBatch, count - first);
    for (nfds_t i = 0; i < batch; ++i) entries[i] = {static_cast<int>(first + i), 0, 0};
    if (poll(entries, batch, 0) < 0) return;  // events 0: only POLLNVAL, never a wait
    for (nfds_t i = 0; i < batch; ++i) {
      if ((entries[i].revents & POLLNVAL) == 0) visit(entries[i].fd);
    }
  }
}

}  // namespace

void tune_inherited_sockets() {
  const Runtime& runtime = kashim::runtime();
  if (!runtime.config.active || runtime.config.direction == Direction::kOut) return;
  const int saved_errno = errno;
  for_each_open_fd([&runtime](int fd) { tune_inherited(runtime, fd); });
  errno = saved_errno;
}

void detail::decide_outgoing(const Runtime& runtime, int fd, const sockaddr* peer,
                             socklen_t peer_length) {
  const int saved_errno = errno;
  Peer known;
  if (peer != nullptr && peer_length > 0) {
    known.length = std::min<socklen_t>(peer_length, sizeof known.address);
    std::memcpy(&known.address, peer, known.length);
  }
  decide(runtime, fd, Direction::kOut, known, record_of(fd) & kAllOptionBits, "connecting to");
  errno = saved_errno;
}

void on_socket_created(int fd, int domain, int type, int protocol) {
  const Runtime& runtime = kashim::runtime();
  if (runtime.config.selective) {
    reset_record(fd);  // decided at connect() or accept()
    return;
  }
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
  if (!runtime.config.active || runtime.config.selective || !logging(runtime, LogLevel::kInfo)) {
    return;  // with a filter, before_connect() decided and logged
  }
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
  const Runtime& runtime = kashim::runtime();
  const Config& config = runtime.config;
  if (config.selective) {
    const int saved_errno = errno;
    reset_record(fd);
    // The peer is asked of the kernel: the program's address buffer may be absent or short.
    bool needs_peer = !config.peers.empty() || logging(runtime, LogLevel::kInfo);
    if (config.direction != Direction::kOut || logging(runtime, LogLevel::kInfo)) {
      FixedText<40> event;
      event.add("accepted on fd ").add(listener).add(" from");
      decide(runtime, fd, Direction::kIn, needs_peer ? peer_of(fd) : Peer(),
             record_of(listener) & kAllOptionBits, event.view());
    }
    errno = saved_errno;
    return;
  }
  // Nothing to set: the kernel copies the listener's options, tuned when it was created (or
  // inherited), to every connection accepted on it. Except those that were queued on an
  // inherited listener before the shim tuned it.
  if (g_queued_entries.load(std::memory_order_relaxed) > 0 && config.active) [[unlikely]] {
    if (was_queued_before_tuning(listener)) {
      const int saved_errno = errno;
      if (int error = apply_keepalive(fd, config, real::setsockopt); error != 0) {
        report_apply_failure(runtime, fd, error);
      }
      errno = saved_errno;
    }
  }
  if (!config.active || !logging(runtime, LogLevel::kInfo)) return;
  const int saved_errno = errno;
  if (fd_is_tcp(fd)) {
    Peer peer = peer_of(fd);
    Line line;
    line.add("fd ").add(fd).add(" accepted from ");
    add_address(&line, peer.get(), peer.length);
    line.add(" on fd ").add(listener).add(": ");
    add_kernel_values(&line, fd);
    log_line(runtime, line);
  }
  errno = saved_errno;
}

// --- A program's setsockopt() -----------------------------------------------------------

namespace {

constexpr int kKeepaliveOn = 1;

// The value that goes to the kernel instead of the program's, if any.
Replacement replacement_for(const Config& config, int fd, int level, int optname,
                            const void* optval, socklen_t optlen) {
  if (config.selective && !forcing(config)) {
    // Fallback mode with a filter: remember what the program set itself, so that a
    // connection decided later leaves it alone.
    if (OptionBits bits = option_set_by(level, optname, optval, optlen); bits != 0) {
      add_to_record(fd, bits);
    }
    return {};
  }
  Replacement replacement = forced_value(config, level, optname, optval, optlen);
  if (!replacement.replace() && is_keepalive_switch_off(config, level, optname, optval, optlen)) {
    // Back on, for TCP only: with a filter the record below says the shim tuned it, so it is
    // TCP; without one only the kernel can tell.
    const int saved_errno = errno;
    if (config.selective || fd_is_tcp(fd)) replacement = {&kKeepaliveOn, 0};
    errno = saved_errno;
  }
  // With a filter, only connections the shim tuned keep its values; the others are the
  // program's alone.
  if (config.selective && (record_of(fd) & kTunedRecord) == 0) return {};
  return replacement;
}

}  // namespace

int setsockopt_looked_at(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  const Runtime& runtime = kashim::runtime();
  Replacement replacement = replacement_for(runtime.config, fd, level, optname, optval, optlen);
  if (replacement.replace()) {
    if (logging(runtime, LogLevel::kDebug)) {
      Line line;
      line.add("fd ").add(fd).add(": the program's option ").add(optname).add(" = ");
      line.add(replacement.requested).add(" replaced by ").add(*replacement.value);
      line.add(" (KASHIM_MODE=force)");
      log_line(runtime, line);
    }
    optval = replacement.value;
    optlen = sizeof *replacement.value;
  }
  return real::setsockopt(fd, level, optname, optval, optlen);
}

}  // namespace kashim
