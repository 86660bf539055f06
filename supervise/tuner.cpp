#include "tuner.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "decide.hpp"
#include "decided_before.hpp"
#include "log_line.hpp"
#include "peers.hpp"
#include "sockets.hpp"

namespace kashim::supervise {
namespace {

struct Peer {
  sockaddr_storage address{};
  socklen_t length = 0;  // 0: unknown
  const sockaddr* get() const {
    return length == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&address);
  }
};

Peer peer_of(int socket) {
  Peer peer;
  socklen_t length = sizeof peer.address;
  if (getpeername(socket, reinterpret_cast<sockaddr*>(&peer.address), &length) == 0) {
    peer.length = length;
  }
  return peer;
}

// The TCP state of the supervisor's duplicate of a socket (TCP_CLOSE: not connecting, not
// connected, not listening), or -1.
int tcp_state(int socket) {
  tcp_info info{};
  socklen_t length = sizeof info;
  return getsockopt(socket, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 ? info.tcpi_state : -1;
}

// The program's address argument, as the kernel would read it: no more than it holds.
Peer read_peer(const NotifiedCall& call, std::uint64_t address, int length) {
  Peer peer;
  if (address == 0 || length <= 0) return peer;
  const socklen_t wanted = std::min<socklen_t>(static_cast<socklen_t>(length), sizeof peer.address);
  if (call.read_memory(address, &peer.address, wanted)) peer.length = wanted;
  return peer;
}

}  // namespace

void Tuner::act_for(pid_t thread) {
  if (!per_process_) return;
  const ExecImage image = exec_image_of(thread);
  if (!image.known) {
    config_ = &unknown_program_;
    return;
  }
  auto seen = images_.find(image.random);
  if (seen == images_.end()) {
    if (images_.size() >= 4096) images_.clear();  // a long-lived tree execs without end
    seen = images_.emplace(image.random, program_of_process(thread, image)).first;
  }
  config_ = &programs_.for_program(seen->second.executable, seen->second.invoked);
  // Invalid values are invalid for every program (core/config.hpp): COMMAND's error was
  // written at start, but a value only the kernel can judge (user_timeout = auto) may fail
  // in one program's section alone.
  if (const std::string_view error = config_->error.view();
      !error.empty() && error != error_written_ && config_->log_level >= LogLevel::kError) {
    error_written_ = error;
    write_log_line(*config_, stderr_, error);
  }
}

void Tuner::handle(const NotifiedCall& call) {
  switch (call.notification().data.nr) {
    case SYS_connect:
      ++counts_.connect;
      on_connect(call, call.int_argument(0), call.argument(1), call.int_argument(2),
                 "connecting to");
      return;
    case SYS_sendto:  // only with MSG_FASTOPEN: it connects, as connect() does
      ++counts_.fastopen;
      on_connect(call, call.int_argument(0), call.argument(4), call.int_argument(5),
                 "connecting (TCP Fast Open) to");
      return;
    case SYS_sendmsg:
      ++counts_.fastopen;
      on_sendmsg_fastopen(call);
      return;
    case SYS_listen:
      ++counts_.listen;
      on_listen(call);
      return;
    case SYS_setsockopt:
      ++counts_.setsockopt;
      on_setsockopt(call);
      return;
    default:
      ++counts_.other;
      call.continue_call();
  }
}

void Tuner::on_connect(const NotifiedCall& call, int fd, std::uint64_t address, int length,
                       const char* event) {
  if (!direction_allows(*config_, Direction::kOut) && !logging(LogLevel::kInfo)) {
    return call.continue_call();
  }
  const Peer peer = read_peer(call, address, length);
  UniqueFd socket = call.duplicate_fd(fd);
  if (!socket || !call.still_waiting()) return call.continue_call();
  SocketRecord* record = fd_is_tcp(socket.get()) ? records_.of(socket.get()) : nullptr;
  // Decided when the socket is neither connecting nor connected: its first attempt, or one
  // after an attempt that failed (as the preload decides the connect() the kernel takes). A
  // second connect() of a connecting socket (to learn how a non-blocking one went) changes
  // nothing.
  if (record != nullptr && tcp_state(socket.get()) == TCP_CLOSE) {
    record->decided = true;
    record->tuned = decide(call.thread(), fd, socket.get(), Direction::kOut, peer.get(),
                           peer.length, record->program_set, event);
  }
  call.continue_call();
}

void Tuner::on_sendmsg_fastopen(const NotifiedCall& call) {
  msghdr message{};
  if (!call.read_memory(call.argument(1), &message, sizeof message)) return call.continue_call();
  on_connect(call, call.int_argument(0), reinterpret_cast<std::uintptr_t>(message.msg_name),
             static_cast<int>(message.msg_namelen), "connecting (TCP Fast Open) to");
}

void Tuner::on_listen(const NotifiedCall& call) {
  const int fd = call.int_argument(0);
  UniqueFd socket = call.duplicate_fd(fd);
  if (!socket || !call.still_waiting()) return call.continue_call();
  SocketRecord* record = fd_is_tcp(socket.get()) ? records_.of(socket.get()) : nullptr;
  if (record == nullptr || record->decided) return call.continue_call();
  record->decided = true;
  // The kernel copies a listener's options to every connection accepted on it, so tuning
  // the listener tunes them all, and accept() need not be notified. A peer filter decides
  // connection by connection instead (decide_on_sight).
  const bool wanted =
      config_->active && direction_allows(*config_, Direction::kIn) && config_->peers.empty();
  int error = 0;
  if (wanted) {
    error = apply_keepalive(socket.get(), *config_, ::setsockopt,
                            forcing(*config_) ? 0 : record->program_set);
    if (error != 0) report_apply_failure(call.thread(), fd, error);
    record->tuned = error == 0;
  }
  if (error == 0 && logging(LogLevel::kDebug)) {
    LogLine line = start_line(call.thread(), fd);
    if (wanted) {
      line.add(" listening (TCP listener) and tuned: ");
      add_kernel_values(&line, socket.get());
    } else {
      line.add(
              " listening (TCP listener): not tuned (accepted connections are decided one by "
              "one; KASHIM_DIRECTION=")
          .add(direction_name(config_->direction))
          .add(")");
    }
    log(line);
  }
  call.continue_call();
}

void Tuner::on_setsockopt(const NotifiedCall& call) {
  const int fd = call.int_argument(0);
  const int level = call.int_argument(1);
  const int optname = call.int_argument(2);
  const int optlen = call.int_argument(4);
  int requested = 0;
  // Anything the kernel would refuse (a negative or short optlen, an unreadable optval) is
  // left to the kernel, so that the program gets the kernel's own error.
  if (optlen < static_cast<int>(sizeof requested) ||
      !call.read_memory(call.argument(3), &requested, sizeof requested)) {
    return call.continue_call();
  }
  const socklen_t length = static_cast<socklen_t>(optlen);
  UniqueFd socket = call.duplicate_fd(fd);
  if (!socket || !call.still_waiting() || !fd_is_tcp(socket.get())) {
    return call.continue_call();
  }
  SocketRecord* record = records_.of(socket.get());
  if (record == nullptr || !config_->active) return call.continue_call();
  if (!forcing(*config_)) {
    // Fallback mode: the program's own setting stands, and a connection decided later
    // leaves it alone — also one decided again, at a connect() after a refused one.
    record->program_set |= option_set_by(level, optname, &requested, length);
    if (config_->selective && !record->decided) {
      decide_on_sight(call.thread(), fd, socket.get(), record);
    }
    return call.continue_call();
  }
  if (config_->selective && !record->decided) {
    decide_on_sight(call.thread(), fd, socket.get(), record);
  }
  // Force mode. With a filter, only connections kashim tuned keep its values.
  if (config_->selective && !record->tuned) return call.continue_call();
  static constexpr int kKeepaliveOn = 1;
  Replacement replacement = forced_value(*config_, level, optname, &requested, length);
  if (!replacement.replace() &&
      is_keepalive_switch_off(*config_, level, optname, &requested, length)) {
    replacement = {&kKeepaliveOn, 0};
  }
  // The configured value goes to the kernel on the duplicate (the same socket), and the
  // program's call is answered as succeeded: its own value never lands. Should the kernel
  // refuse ours, the program's call runs as it was.
  if (!replacement.replace() ||
      ::setsockopt(socket.get(), level, optname, replacement.value, sizeof(int)) != 0) {
    return call.continue_call();
  }
  if (logging(LogLevel::kDebug)) {
    LogLine line = start_line(call.thread(), fd);
    line.add(": the program's option ").add(optname).add(" = ").add(requested);
    line.add(" replaced by ").add(*replacement.value).add(" (KASHIM_MODE=force)");
    log(line);
  }
  call.answer(0);
}

void Tuner::decide_on_sight(pid_t pid, int fd, int socket, SocketRecord* record) {
  if (read_int_option(socket, SOL_SOCKET, SO_ACCEPTCONN) == 1) return;  // listen() decides
  const Peer peer = peer_of(socket);
  if (peer.length == 0) return;  // not connected yet: connect() decides
  record->decided = true;
  record->tuned = decide(pid, fd, socket, Direction::kIn, peer.get(), peer.length,
                         record->program_set, "accepted or inherited, connected to");
}

void Tuner::tune_inherited_sockets() {
  if (!config_->active || config_->direction == Direction::kOut) return;
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return;
  const int own = dirfd(directory);
  while (const dirent* entry = readdir(directory)) {
    char* end = nullptr;
    const long number = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || end == entry->d_name || number == own) continue;
    const int fd = static_cast<int>(number);
    if (!fd_is_tcp(fd)) continue;
    // The library's rule: what was decided where the socket was made stands.
    const OptionBits skip = decided_before(*config_, fd);
    if (skip == kAllOptionBits) continue;
    const bool listening = read_int_option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1;
    // As the library's rule: a connection keeps what its maker decided, except one on
    // standard input (inetd, systemd's StandardInput=socket), decided as an accepted one.
    if (!listening && fd != STDIN_FILENO) continue;
    const Peer peer = peer_of(fd);
    if (config_->selective) {
      // A listener without a peer filter tunes what it accepts (with one, each accepted
      // connection is decided by itself); a connection is decided as an accepted one.
      if (listening && config_->peers.empty()) {
        apply_keepalive(fd, *config_, ::setsockopt, skip);
      } else if (!listening && peer.length != 0) {
        decide(getpid(), fd, fd, Direction::kIn, peer.get(), peer.length, skip,
               "inherited, connected to");
      }
      continue;
    }
    if (int error = apply_keepalive(fd, *config_, ::setsockopt, skip); error != 0) {
      report_apply_failure(getpid(), fd, error);
    } else if (logging(LogLevel::kDebug)) {
      LogLine line = start_line(getpid(), fd);
      line.add(listening ? " inherited (TCP listener" : " inherited (TCP socket");
      line.add(") and tuned: ");
      add_kernel_values(&line, fd);
      log(line);
    }
  }
  closedir(directory);
}

}  // namespace kashim::supervise
