#include "events.hpp"

#include <cerrno>
#include <cstring>

#include "decided_before.hpp"
#include "guards.hpp"
#include "inherited.hpp"
#include "own_stack_page.hpp"
#include "real.hpp"
#include "records.hpp"
#include "runtime.hpp"
#include "sockets.hpp"
#include "tune.hpp"

namespace kashim {
namespace {

// "fd 5 connecting to 192.0.2.7:5432: keep-alive on, idle 60s, ..." at info.
void log_values(const Runtime& runtime, int fd, std::string_view event, const Peer* peer,
                std::string_view after_peer = {}) {
  LogLine line;
  line.add("fd ").add(fd).add(" ").add(event);
  if (peer != nullptr) {
    line.add(" ");
    add_address(&line, peer->get(), peer->length);
  }
  line.add(after_peer).add(": ");
  add_kernel_values(&line, fd);
  log_line(runtime, line);
}

// Whether the kernel took the address of a call that connects: it connected, or the
// handshake goes on (EINPROGRESS; EINTR: an interrupted connect continues in the
// background). Any other failure is a refusal, perhaps without reading anything.
bool address_taken(long result) {
  return result >= 0 || errno == EINPROGRESS || errno == EINTR;
}

// "fd 5: the program's option 5 = 1 replaced by 10 (KASHIM_MODE=force)" at debug.
void log_replaced(const Runtime& runtime, int fd, int optname, int program_value, int value) {
  LogLine line;
  line.add("fd ").add(fd).add(": the program's option ").add(optname).add(" = ");
  line.add(program_value).add(" replaced by ").add(value).add(" (KASHIM_MODE=force)");
  log_line(runtime, line);
}

}  // namespace

void on_socket_created(int fd, int domain, int type, int protocol) {
  const Runtime& runtime = kashim::runtime();
  if (!runtime.config.active || !is_tcp_socket(domain, type, protocol)) return;
  ErrnoGuard keep_errno;
  records::mark_seen(fd);  // a listener made here, if it becomes one
  if (runtime.config.selective) {
    records::forget(fd);  // decided at connect() or accept()
    return;
  }
  if (tune(runtime, fd) && logging(runtime, LogLevel::kDebug)) {
    log_values(runtime, fd,
               domain == AF_INET6 ? "(TCP/IPv6) created and tuned" : "(TCP/IPv4) created and tuned",
               nullptr);
  }
}

void after_connect(int fd, const sockaddr* peer, socklen_t peer_length, long result) {
  if (!address_taken(result)) return;
  const Runtime& runtime = kashim::runtime();
  if (!runtime.config.active) return;
  ErrnoGuard keep_errno;
  if (runtime.config.selective) {
    OptionBits program_set = records::read(fd) & kAllOptionBits;
    // A socket made while kashim could not yet read its configuration (short of memory or
    // descriptors), or by a raw system call: what the program set is read back from the
    // kernel, as for a connection accepted on a listener from elsewhere.
    if (program_set == 0 && !forcing(runtime.config) && !records::seen(fd)) {
      program_set = decided_before(runtime.config, fd);
    }
    decide(runtime, fd, Direction::kOut, copy_of(peer, peer_length), program_set, "connecting to");
  } else if (logging(runtime, LogLevel::kInfo) && fd_is_tcp(fd)) {
    const Peer known = copy_of(peer, peer_length);
    log_values(runtime, fd, "connecting to", &known);
  }
}

void after_fastopen_message(int fd, const msghdr* message, long result) {
  if (!address_taken(result)) return;  // else the header itself may be unreadable
  // The kernel read the message header and its address: both are readable.
  after_connect(fd, static_cast<const sockaddr*>(message->msg_name), message->msg_namelen, result);
}

void on_accepted(int listener, int fd) {
  const Runtime& runtime = kashim::runtime();
  const Config& config = runtime.config;
  if (!config.active) return;
  if (config.selective) {
    ErrnoGuard keep_errno;
    records::forget(fd);
    if (config.direction == Direction::kOut && !logging(runtime, LogLevel::kInfo)) return;
    // What the program set on the listener, which the connection inherits. Without a record
    // (a listener from elsewhere, say), fallback mode leaves a connection whose keep-alive
    // is on: someone chose it.
    OptionBits program_set = records::read(listener) & kAllOptionBits;
    if (program_set == 0 && !forcing(config) && keepalive_on(fd)) {
      program_set = kAllOptionBits;
    }
    // The peer is asked of the kernel: the program's address buffer may be absent or short.
    const bool needs_peer = !config.peers.empty() || logging(runtime, LogLevel::kInfo);
    FixedText<40> event;
    event.add("accepted on fd ").add(listener).add(" from");
    decide(runtime, fd, Direction::kIn, needs_peer ? peer_of(fd) : Peer(), program_set,
           event.view());
    return;
  }
  // Nothing to set: the kernel copies the listener's options, tuned when it was created, to
  // every connection accepted on it. Except a listener from elsewhere, seen for the first
  // time, and the connections queued on it before kashim tuned it.
  if (!records::seen(listener)) [[unlikely]] {
    on_accepted_from_unseen_listener(runtime, listener, fd);
  } else if (draining_any()) [[unlikely]] {
    drain(runtime, listener, fd);
  }
  if (!logging(runtime, LogLevel::kInfo)) return;
  ErrnoGuard keep_errno;
  if (fd_is_tcp(fd)) {
    const Peer peer = peer_of(fd);
    FixedText<24> on_listener;
    on_listener.add(" on fd ").add(listener);
    log_values(runtime, fd, "accepted from", &peer, on_listener.view());
  }
}

namespace {

// The program's call of a managed option succeeded: force mode sets the operator's value
// again, fallback mode remembers that the program chose.
void after_program_set_option(int fd, int level, int optname) {
  const Runtime& runtime = kashim::runtime();
  const Config& config = runtime.config;
  if (!config.active) return;
  ErrnoGuard keep_errno;
  if (!forcing(config)) program_decided_for(fd);
  const bool shim_tuned =
      config.selective && forcing(config) && (records::read(fd) & records::kTuned) != 0;
  const AfterProgramSet after = after_program_set(config, level, optname, shim_tuned);
  if (after.program_set != 0) records::add(fd, after.program_set);
  if (after.restore == nullptr) return;
  // What the program's call left in the kernel, read back rather than from its memory.
  const int now = after.only_if_off || logging(runtime, LogLevel::kDebug)
                      ? read_int_option(fd, level, optname)
                      : -1;
  if (after.only_if_off && now != 0) return;
  if (after.only_if_tcp && !fd_is_tcp(fd)) return;
  if (real::setsockopt(fd, level, optname, after.restore, sizeof *after.restore) == 0 &&
      logging(runtime, LogLevel::kDebug)) {
    log_replaced(runtime, fd, optname, now, *after.restore);
  }
}

// Errors the kernel gives whatever the value, before anything that judges values has seen
// it (no such descriptor, not a socket) or for the socket's kind (not TCP): the program's own
// call would get the same, so it is not made (one call, as without kashim).
bool answers_without_the_value(int error) {
  return error == EBADF || error == ENOTSOCK || error == ENOPROTOOPT || error == EOPNOTSUPP;
}

// Force mode, where the program's value can be read without risk (own_stack_page.hpp): what
// the call is, decided before it is made.
ForcedCall decide_before(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  // Only the length most programs pass: a seccomp filter may look at optlen, and a cgroup
  // setsockopt program reads as many bytes as it says.
  if (optlen != sizeof(int) || !on_own_stack_page(optval, sizeof(int))) return {};
  // Not before the configuration is there: reading it takes stack and files, which a call
  // the kernel refuses never needed (a handler on a small signal stack, say).
  const Runtime* runtime = runtime_if_read();
  if (runtime == nullptr) return {};
  const Config& config = runtime->config;
  if (!forcing(config)) return {};
  const bool shim_tuned = config.selective && (records::read(fd) & records::kTuned) != 0;
  return forced_call(config, level, optname, optval, optlen, shim_tuned);
}

}  // namespace

// Out of line: the hook's common path (any other option) stays a bare forward.
[[gnu::noinline]] int set_managed_option(int fd, int level, int optname, const void* optval,
                                         socklen_t optlen) {
  const ForcedCall call = decide_before(fd, level, optname, optval, optlen);
  if (call.nothing_after) return real::setsockopt(fd, level, optname, optval, optlen);
  if (call.replacement.replace()) {
    // One call with the operator's value. The kernel's answer to the program's own would
    // differ only on the value, which it accepts.
    const int saved_errno = errno;
    if (real::setsockopt(fd, level, optname, call.replacement.value, sizeof(int)) == 0) {
      const Runtime& runtime = kashim::runtime();
      if (logging(runtime, LogLevel::kDebug)) {
        ErrnoGuard keep_errno;
        log_replaced(runtime, fd, optname, call.replacement.requested, *call.replacement.value);
      }
      return 0;
    }
    if (answers_without_the_value(errno)) return -1;
    // Refused by something between libc and the kernel that judges values (a cgroup
    // setsockopt program, a seccomp supervisor, an interposer): the program's call as it
    // was, whose answer is the program's. The operator's value, refused, is not tried again.
    errno = saved_errno;
    return real::setsockopt(fd, level, optname, optval, optlen);
  }
  const int result = real::setsockopt(fd, level, optname, optval, optlen);
  if (result == 0) after_program_set_option(fd, level, optname);
  return result;
}

}  // namespace kashim
