// The supervisor's answer to each notified call: the same decisions as the preload library
// (core/decide.hpp, one configuration parsed by core/config.hpp), carried out on a
// pidfd_getfd duplicate of the program's socket, and the same log lines, prefixed with the
// process they concern.
//
// The rule above all: a call the program makes must never fail because of the supervisor.
// Whatever cannot be read, duplicated or understood lets the call continue untouched, and
// the kernel gives the program its own answer.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "config.hpp"
#include "log.hpp"
#include "log_line.hpp"
#include "program_of_process.hpp"
#include "socket_records.hpp"
#include "target.hpp"

namespace kashim::supervise {

// How many calls reached the supervisor, by kind: printed at KASHIM_LOG=debug when the
// program ends, so that tests can tell which calls the filter let through untouched.
struct NotificationCounts {
  std::uint64_t connect = 0, listen = 0, accept = 0, fastopen = 0, setsockopt = 0, other = 0;
  std::uint64_t total() const { return connect + listen + accept + fastopen + setsockopt + other; }
};

// What was decided for one connection, and whether applying it failed.
struct Decision {
  bool wanted = false;
  int error = 0;  // errno of the first setsockopt that failed
  bool tuned() const { return wanted && error == 0; }
};

class Tuner {
 public:
  // `command_config`: COMMAND's. With `per_process` (the configuration varies by program:
  // core/config.hpp), each process of COMMAND's tree gets its own program's instead.
  Tuner(const Config& command_config, StderrIdentity stderr_at_start, bool per_process = false)
      : command_(command_config),
        config_(&command_config),
        stderr_(stderr_at_start),
        per_process_(per_process) {}

  // The configuration the calls of thread `thread` are decided and logged by, until the next
  // act_for: COMMAND's, or, per process, that of the program the thread runs, chosen as the
  // library chooses inside it: by the names it has when its program image (one exec, and
  // the processes forked from it) is first seen, so that a process that renames itself
  // later (argv[0]) keeps its configuration, and a fork keeps its parent's. An image whose
  // names cannot be read is left untouched. A configuration's error line, when new, is
  // written once.
  void act_for(pid_t thread);

  // Handles one notification and answers it (or finds it gone), for the program act_for
  // chose.
  void handle(const NotifiedCall& call);

  // In the child, before exec: the TCP listeners COMMAND inherits (systemd socket
  // activation, or any other) and a connection on its standard input (inetd) are tuned as
  // the library tunes them.
  void tune_inherited_sockets();

  // A connection accepted under a peer filter (accept.hpp), on the supervisor's copies of
  // the listener and the connection, before the program has it: decided and tuned as the
  // library decides it, and remembered as decided.
  Decision decide_accepted(int listener_socket, int socket, const sockaddr* peer,
                           socklen_t peer_length);
  // Its log line, once the program's number for it (`fd`) is known.
  void report_accepted(pid_t pid, int fd, int listener_fd, int socket, const sockaddr* peer,
                       socklen_t peer_length, const Decision& decision);

  const Config& command_config() const { return command_; }
  const Config& config() const { return *config_; }  // act_for's choice
  const NotificationCounts& counts() const { return counts_; }
  void count_accept() { ++counts_.accept; }
  void log(const LogLine& line) const { write_log_line(*config_, stderr_, line.view()); }
  bool logging(LogLevel level) const { return config_->log_level >= level; }
  // The supervisor's own lines, about no one call (its counts, a connection it closed): by
  // COMMAND's configuration, whatever act_for chose last.
  void log_as_supervisor(const LogLine& line) const {
    write_log_line(command_, stderr_, line.view());
  }
  bool supervisor_logging(LogLevel level) const { return command_.log_level >= level; }

 private:
  void on_connect(const NotifiedCall& call, int fd, std::uint64_t address, int length,
                  const char* event);
  void on_sendmsg_fastopen(const NotifiedCall& call);
  void on_listen(const NotifiedCall& call);
  void on_setsockopt(const NotifiedCall& call);
  // The first time a connection the supervisor did not see being made (accepted, or
  // inherited) shows up in a setsockopt call, with a filter: decided like an accepted one.
  void decide_on_sight(pid_t pid, int fd, int socket, SocketRecord* record);
  // Tunes one connection if the configuration wants it, and says why at info; true when
  // tuned. `fd` is the program's number, `socket` the supervisor's duplicate.
  bool decide(pid_t pid, int fd, int socket, Direction side, const sockaddr* peer,
              socklen_t peer_length, OptionBits program_set, const char* event);
  Decision apply_decision(int socket, Direction side, const sockaddr* peer, socklen_t peer_length,
                          OptionBits program_set);
  void report_decision(pid_t pid, int fd, int socket, Direction side, const sockaddr* peer,
                       socklen_t peer_length, const Decision& decision, std::string_view event);
  void report_apply_failure(pid_t pid, int fd, int error);
  LogLine start_line(pid_t pid, int fd) const;

  const Config& command_;
  const Config* config_;  // act_for's choice
  StderrIdentity stderr_;
  bool per_process_;
  ProgramConfigurations programs_{256};
  std::map<std::array<unsigned char, 16>, ProcessProgram> images_;  // by ExecImage::random
  Config unknown_program_;     // inactive: calls continue untouched
  std::string error_written_;  // the last configuration error line written
  SocketRecords records_;
  NotificationCounts counts_;
  bool apply_failure_reported_ = false;
};

}  // namespace kashim::supervise
