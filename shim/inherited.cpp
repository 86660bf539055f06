#include "inherited.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "decided_before.hpp"
#include "guards.hpp"
#include "kernel.hpp"
#include "process_sources.hpp"
#include "programs.hpp"
#include "real.hpp"
#include "records.hpp"
#include "sockets.hpp"
#include "tune.hpp"

namespace kashim {
namespace {

constexpr int kFirstListenFd = 3;    // SD_LISTEN_FDS_START
constexpr int kMaxListenFds = 1024;  // more than any unit passes
std::atomic<int> g_draining{0};      // inherited listeners whose old queue is being drained

void log_inherited(const Runtime& runtime, int fd, std::string_view how) {
  if (!logging(runtime, LogLevel::kDebug)) return;
  LogLine line;
  line.add("fd ").add(fd).add(" ").add(how).add(", tuned: ");
  add_kernel_values(&line, fd);
  log_line(runtime, line);
}

void start_draining(int listener, OptionBits how) {
  records::add(listener, records::kDraining | how);
  g_draining.fetch_add(1, std::memory_order_relaxed);
}

void stop_draining(int listener) {
  records::remove(listener, records::kDraining);
  g_draining.fetch_sub(1, std::memory_order_relaxed);
}

// Draining a listener someone else tuned: kAllOptionBits, no option of kashim's own.
constexpr OptionBits kListenersValues = kAllOptionBits;

// Without a filter: tuned as if made here, but for what someone set before (fallback).
// A listener's connections queued before are clones of the untuned listener: drained. One
// whose keep-alive someone switched on already is drained too, with its own values: that
// someone may have done it after connections were queued (a wrapper's kashim tuned it, then
// exec'd this program: LISTEN_PID is the same).
void tune_listener(const Runtime& runtime, int fd, std::string_view how) {
  const OptionBits skip = decided_before(runtime.config, fd);
  if (skip == kAllOptionBits) {
    if (keepalive_on(fd)) start_draining(fd, kListenersValues);
    return;
  }
  if (!tune(runtime, fd, skip)) return;
  start_draining(fd, skip);
  log_inherited(runtime, fd, how);
}

// The listener's keep-alive values, given to a connection cloned from it before it had them.
void give_listeners_values(int listener, int accepted) {
  const int on = read_int_option(listener, SOL_SOCKET, SO_KEEPALIVE);
  for (const ManagedTcpOption& option : kManagedTcpOptions) {
    const int value = read_int_option(listener, IPPROTO_TCP, option.optname);
    if (value >= 0) real::setsockopt(accepted, IPPROTO_TCP, option.optname, &value, sizeof value);
  }
  if (on > 0) real::setsockopt(accepted, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
}

void tune_connection(const Runtime& runtime, int fd, std::string_view how) {
  const OptionBits skip = decided_before(runtime.config, fd);
  if (runtime.config.selective) {
    decide(runtime, fd, Direction::kIn, peer_of(fd), skip, how);
  } else if (skip != kAllOptionBits && tune(runtime, fd, skip)) {
    log_inherited(runtime, fd, how);
  }
}

// Whether the process that started this one decided for the sockets it handed down: it has
// kashim loaded (its memory map names libkashim) and the configuration's program list takes
// it in (a host-wide /etc/kashim.conf may leave inetd itself out). A parent that has kashim
// but was disabled by a variable of its own cannot be told from here: that connection is
// left as the parent left it.
bool parent_runs_kashim(const Config& config) {
  FixedText<64> path;
  path.add("/proc/").add(static_cast<std::int64_t>(kernel::raw(SYS_getppid))).add("/");
  const std::size_t directory = path.view().size();
  path.add("maps");
  int fd = kernel::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  constexpr std::string_view kName = "/libkashim";
  char buffer[4096 + kName.size()];
  std::size_t kept = 0;  // the end of the previous read, for a name split across reads
  bool found = false;
  for (ssize_t got; !found && (got = kernel::read(fd, buffer + kept, sizeof buffer - kept)) > 0;) {
    std::string_view chunk(buffer, kept + static_cast<std::size_t>(got));
    found = chunk.find(kName) != std::string_view::npos;
    kept = std::min(chunk.size(), kName.size() - 1);
    std::memmove(buffer, chunk.data() + chunk.size() - kept, kept);
  }
  kernel::close(fd);
  if (!found || config.programs[0] == '\0') return found;
  // The parent's names, as its own kashim would have matched them: its executable and its
  // argv[0], each a basename.
  char executable[256] = {}, invoked[256] = {};
  FixedText<64> exe;
  exe.add(std::string_view(path.c_str(), directory)).add("exe");
  ssize_t length = kernel::readlink(exe.c_str(), executable, sizeof executable - 1);
  if (length < 0) length = 0;
  executable[length] = '\0';
  FixedText<64> cmdline;
  cmdline.add(std::string_view(path.c_str(), directory)).add("cmdline");
  fd = kernel::open(cmdline.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t got = kernel::read(fd, invoked, sizeof invoked - 1);
    invoked[got > 0 ? got : 0] = '\0';  // argv[0] ends at its NUL
    kernel::close(fd);
  }
  const ProgramNames names{base_name(executable), base_name(invoked)};
  return match_programs(config.programs, names).verdict == ProgramVerdict::kIncluded;
}

}  // namespace

void tune_inherited_at_start(long listen_fds, bool stdin_stream) {
  ErrnoGuard keep_errno;
  const Runtime& runtime = kashim::runtime();
  const Config& config = runtime.config;
  if (!config.active || config.direction == Direction::kOut) return;
  OwnWork own_work;  // reads files
  const int count = listen_fds <= kMaxListenFds ? static_cast<int>(listen_fds) : 0;
  for (int fd = kFirstListenFd; fd < kFirstListenFd + count; ++fd) {
    if (!fd_is_tcp(fd)) continue;
    if (read_int_option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1) {
      records::mark_seen(fd);
      if (!config.selective) tune_listener(runtime, fd, "from systemd (LISTEN_FDS), listening");
    } else {
      tune_connection(runtime, fd, "from systemd (LISTEN_FDS), connected to");
    }
  }
  // inetd's connection. A listener there (inetd's "wait" services) is left to its first
  // accept().
  if (!stdin_stream || count > 0 || !fd_is_tcp(STDIN_FILENO)) return;
  if (read_int_option(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN) == 1) return;
  if (peer_of(STDIN_FILENO).length == 0 || parent_runs_kashim(config)) return;
  tune_connection(runtime, STDIN_FILENO, "on standard input (inetd), connected to");
}

void on_accepted_from_unseen_listener(const Runtime& runtime, int listener, int accepted) {
  records::mark_seen(listener);
  const Config& config = runtime.config;
  if (!config.active || config.selective) return;  // with a filter, accept() decides each one
  ErrnoGuard keep_errno;
  OwnWork own_work;  // reads sysctls in fallback mode
  if (!fd_is_tcp(listener)) return;
  tune_listener(runtime, listener, "inherited (TCP listener), at its first accept()");
  drain(runtime, listener, accepted);
}

bool draining_any() {
  return g_draining.load(std::memory_order_relaxed) > 0;
}

void drain(const Runtime& runtime, int listener, int accepted) {
  const OptionBits record = records::read(listener);
  if ((record & records::kDraining) == 0) return;
  ErrnoGuard keep_errno;
  if (keepalive_on(accepted)) {
    // Cloned from the tuned listener: everything queued before it is out.
    stop_draining(listener);
    return;
  }
  if ((record & kAllOptionBits) == kListenersValues) {
    give_listeners_values(listener, accepted);
  } else {
    tune(runtime, accepted, record & kAllOptionBits);
  }
}

void program_decided_for(int fd) {
  if (!records::seen(fd)) records::mark_seen(fd);
  if (draining_any() && (records::read(fd) & records::kDraining) != 0) stop_draining(fd);
}

}  // namespace kashim
