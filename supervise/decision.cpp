// The Tuner's decisions, one connection at a time: the library's decision (core/decide.hpp)
// applied on the supervisor's copy of the socket, and the library's log line for it.
#include "decide.hpp"
#include "log_line.hpp"
#include "peers.hpp"
#include "sockets.hpp"
#include "tuner.hpp"

namespace kashim::supervise {

LogLine Tuner::start_line(pid_t pid, int fd) const {
  LogLine line;
  line.add("pid ").add(static_cast<int>(pid)).add(" fd ").add(fd);
  return line;
}

bool Tuner::decide(pid_t pid, int fd, int socket, Direction side, const sockaddr* peer,
                   socklen_t peer_length, OptionBits program_set, const char* event) {
  const Decision decision = apply_decision(socket, side, peer, peer_length, program_set);
  report_decision(pid, fd, socket, side, peer, peer_length, decision, event);
  return decision.tuned();
}

Decision Tuner::apply_decision(int socket, Direction side, const sockaddr* peer,
                               socklen_t peer_length, OptionBits program_set) {
  Decision decision;
  decision.wanted = wants_connection(*config_, side, peer, peer_length);
  if (decision.wanted) {
    decision.error =
        apply_keepalive(socket, *config_, ::setsockopt, forcing(*config_) ? 0 : program_set);
  }
  return decision;
}

void Tuner::report_decision(pid_t pid, int fd, int socket, Direction side, const sockaddr* peer,
                            socklen_t peer_length, const Decision& decision,
                            std::string_view event) {
  if (decision.error != 0) return report_apply_failure(pid, fd, decision.error);
  if (!(decision.wanted || config_->active) || !logging(LogLevel::kInfo)) return;
  LogLine line = start_line(pid, fd);
  line.add(" ").add(event).add(" ");
  add_address(&line, peer, peer_length);
  if (decision.wanted && !config_->selective) {
    line.add(": ");  // every connection is tuned: the library's words, too
  } else {
    add_filter_decision(&line, *config_, side, peer, peer_length, decision.wanted);
  }
  if (decision.wanted) add_kernel_values(&line, socket);
  log(line);
}

Decision Tuner::decide_accepted(int listener_socket, int socket, const sockaddr* peer,
                                socklen_t peer_length) {
  // The library's rule: what the program set on the listener, which the connection
  // inherits, stays in fallback mode; without a record of it, a keep-alive that is on was
  // someone's choice.
  const SocketRecord* listener = records_.of(listener_socket);
  OptionBits program_set = listener != nullptr ? listener->program_set : 0;
  if (program_set == 0 && !forcing(*config_) &&
      read_int_option(socket, SOL_SOCKET, SO_KEEPALIVE) == 1) {
    program_set = kAllOptionBits;
  }
  const Decision decision = apply_decision(socket, Direction::kIn, peer, peer_length, program_set);
  if (SocketRecord* record = records_.of(socket); record != nullptr) {
    record->decided = true;
    record->tuned = decision.tuned();
  }
  return decision;
}

void Tuner::report_accepted(pid_t pid, int fd, int listener_fd, int socket, const sockaddr* peer,
                            socklen_t peer_length, const Decision& decision) {
  FixedText<40> event;
  event.add("accepted on fd ").add(listener_fd).add(" from");
  report_decision(pid, fd, socket, Direction::kIn, peer, peer_length, decision, event.view());
}

void Tuner::report_apply_failure(pid_t pid, int fd, int error) {
  const bool first = !apply_failure_reported_;
  apply_failure_reported_ = true;
  if (!logging(first ? LogLevel::kError : LogLevel::kInfo)) return;
  LogLine line = start_line(pid, fd);
  line.add(": keep-alive options could not be set, ");
  add_errno(&line, error);
  line.add("; the program goes on untuned");
  if (first) line.add(" (further failures are logged at KASHIM_LOG=info)");
  log(line);
}

}  // namespace kashim::supervise
