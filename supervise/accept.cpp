#include "accept.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "decide.hpp"
#include "log_line.hpp"
#include "proc_stat.hpp"
#include "sockets.hpp"

namespace kashim::supervise {
namespace {

// A connection kept for the listener's next accept is closed after this long without one.
constexpr auto kUndeliveredTimeout = std::chrono::seconds(10);

// Why a connection could not be handed over: ENOENT stands for a call a signal ended.
void add_handover_failure(LogLine* line, int error) {
  if (error == ENOENT) {
    line->add("its accept was interrupted by a signal");
  } else {
    add_errno(line, error);
  }
}

// Whether a thread is stopped by a signal or a tracer (/proc/TID/stat's state T or t).
bool is_stopped(pid_t thread) {
  const std::string stat = stat_from_state(thread);
  return !stat.empty() && (stat[0] == 'T' || stat[0] == 't');
}

// The kernel's move_addr_to_user(), as accept runs it after taking the connection: the
// peer's full length goes to *length_address (unless the program's length is negative),
// then as much of the address as the program's length allows. 0, or the error the kernel
// would give (EFAULT, EINVAL: the connection is then dropped, by the kernel as here), or
// why the program's memory is out of reach.
int write_peer_address(const AcceptRequest& request, const AcceptedConnection& connection) {
  if (request.address == 0) return 0;  // the length is not looked at either
  const NotifiedCall& call = request.call;
  int length = 0;
  if (!call.read_memory(request.length_address, &length, sizeof length)) return errno;
  const int full = static_cast<int>(connection.peer_length);
  if (length > full) length = full;
  if (length >= 0 && !call.write_memory(request.length_address, &full, sizeof full)) return errno;
  if (length < 0) return EINVAL;
  if (length > 0 &&
      !call.write_memory(request.address, &connection.peer, static_cast<std::size_t>(length))) {
    return errno;
  }
  return 0;
}

// The new connection's O_NONBLOCK as the call asked: one kept from another call may have
// been accepted with other flags (the program cannot see it yet).
void set_nonblocking_as_asked(int socket, int flags) {
  const int status = fcntl(socket, F_GETFL);
  if (status < 0) return;
  const int wanted = (flags & SOCK_NONBLOCK) != 0 ? status | O_NONBLOCK : status & ~O_NONBLOCK;
  if (wanted != status) fcntl(socket, F_SETFL, wanted);
}

}  // namespace

bool accepts_need_notifying(const Config& config) {
  return config.active && !config.peers.empty() && direction_allows(config, Direction::kIn);
}

void Accepts::handle(const NotifiedCall& call) {
  tuner_.count_accept();
  // The filter notifies accept for every program of COMMAND's tree when one program's
  // configuration has a peer filter; the others' accepts are the kernel's, as without one.
  if (!accepts_need_notifying(tuner_.config())) return call.continue_call();
  AcceptRequest request(call);
  request.fd = call.int_argument(0);
  request.address = call.argument(1);
  request.length_address = call.argument(2);
  request.flags = call.notification().data.nr == SYS_accept4 ? call.int_argument(3) : 0;
  // Flags the kernel refuses (EINVAL) are its to refuse. A thread with a file-system uid or
  // gid other than the supervisor's would own its socket; one the supervisor made would not.
  if (!install_supported_ || (request.flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0 ||
      !has_supervisors_file_credentials(call.thread())) {
    return call.continue_call();
  }
  request.listener = call.duplicate_fd(request.fd);
  struct stat status;
  if (!request.listener || !call.still_waiting() || !fd_is_tcp(request.listener.get()) ||
      read_int_option(request.listener.get(), SOL_SOCKET, SO_ACCEPTCONN) != 1 ||
      fstat(request.listener.get(), &status) != 0) {
    return call.continue_call();  // not a TCP listener: the kernel's error, or its accept
  }
  request.listener_inode = status.st_ino;
  // The kernel takes a descriptor number before it takes a connection: with none free, its
  // EMFILE comes at once and the connection stays queued. Let it say so itself.
  if (!has_descriptor_room(call.thread())) return call.continue_call();
  const int file_flags = fcntl(request.listener.get(), F_GETFL);
  if (file_flags < 0) return call.continue_call();

  AcceptedConnection connection;
  if (take_undelivered(request.listener_inode, &connection)) {
    return deliver(request, std::move(connection));
  }
  if ((file_flags & O_NONBLOCK) == 0) {
    // A receive timeout ends a blocking accept with EAGAIN, and a signal then makes it fail
    // with EINTR rather than restart: a wait here would restart. The kernel waits instead.
    timeval timeout{};
    socklen_t length = sizeof timeout;
    if (getsockopt(request.listener.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, &length) != 0 ||
        timeout.tv_sec != 0 || timeout.tv_usec != 0) {
      return call.continue_call();
    }
    return start_waiting(std::move(request));
  }
  // A non-blocking listener: the answer is there at once, a connection or EAGAIN.
  socklen_t peer_length = sizeof connection.peer;
  connection.socket =
      UniqueFd(accept4(request.listener.get(), reinterpret_cast<sockaddr*>(&connection.peer),
                       &peer_length, request.flags | SOCK_CLOEXEC));
  if (!connection.socket) return answer_failure(request, errno);
  connection.peer_length = peer_length;
  deliver(request, std::move(connection));
}

void Accepts::answer_failure(const AcceptRequest& request, int error) {
  // EMFILE, ENFILE: the supervisor's own table (the kernel took no connection); EINTR: its
  // own signal. Anything else is what the program's accept would have said.
  if (error == EMFILE || error == ENFILE || error == EINTR) return request.call.continue_call();
  request.call.fail(error);
}

void Accepts::deliver(const AcceptRequest& request, AcceptedConnection connection) {
  // A call a signal interrupted (the kernel says so) is owed nothing, not even the address:
  // the connection goes to the listener's next accept.
  if (!request.call.still_waiting()) {
    return keep_undelivered(request, std::move(connection), ENOENT);
  }
  if (int error = write_peer_address(request, connection); error == EFAULT || error == EINVAL) {
    return request.call.fail(error);  // and the connection is dropped, as the kernel drops it
  } else if (error != 0 && !request.call.still_waiting()) {
    return keep_undelivered(request, std::move(connection), error);  // interrupted meanwhile
  } else if (error != 0) {
    return abort_connection(request, std::move(connection), error);  // out of reach (EPERM)
  }
  set_nonblocking_as_asked(connection.socket.get(), request.flags);
  const sockaddr* peer = reinterpret_cast<const sockaddr*>(&connection.peer);
  if (!connection.decided) {
    connection.decision = tuner_.decide_accepted(request.listener.get(), connection.socket.get(),
                                                 peer, connection.peer_length);
    connection.decided = true;
  }
  const int fd =
      request.call.install_and_answer(connection.socket.get(), (request.flags & SOCK_CLOEXEC) != 0);
  if (fd < 0) {
    const int error = -fd;
    // ENOENT, ESRCH from the ioctl itself: the call is gone (interrupted), nothing is owed.
    if (error == EMFILE || error == ENFILE) {
      request.call.fail(error);  // the program's own table, filled while it waited
    } else if (error != ENOENT && error != ESRCH) {
      request.call.continue_call();  // whatever else: the kernel's accept takes the next one
    }
    return keep_undelivered(request, std::move(connection), error);
  }
  tuner_.report_accepted(request.call.thread(), fd, request.fd, connection.socket.get(), peer,
                         connection.peer_length, connection.decision);
}

// The program's memory went out of reach while its accept waited (it made itself
// non-dumpable, or dropped the privileges the supervisor relied on): no accept of this
// process can ever take a connection kept for it, and one kept would cost a client its 10 s
// and the kernel's accept another client. The connection is closed, and the call fails with
// ECONNABORTED, which accept(2) documents and servers retry.
void Accepts::abort_connection(const AcceptRequest& request, AcceptedConnection connection,
                               int error) {
  request.call.fail(ECONNABORTED);
  if (tuner_.logging(LogLevel::kError)) {
    LogLine line;
    line.add("pid ").add(static_cast<int>(request.call.thread())).add(" fd ").add(request.fd);
    line.add(": the address of a connection from ");
    add_address(&line, reinterpret_cast<const sockaddr*>(&connection.peer), connection.peer_length);
    line.add(" could not be written to the program (");
    add_errno(&line, error);
    line.add("): closed, and the accept failed with ECONNABORTED");
    tuner_.log(line);
  }
}

// The connection is taken from the listener's queue, but the program did not get it, and
// the call is answered already or gone: its thread was interrupted by a signal at that
// moment (it restarts the call, or fails with EINTR), or its descriptor table filled up
// meanwhile (EMFILE). It goes to the listener's next accept rather than being lost.
void Accepts::keep_undelivered(const AcceptRequest& request, AcceptedConnection connection,
                               int error) {
  // Another thread of the program waiting on the same listener takes it now.
  for (Wait& wait : waits_) {
    if (wait.finished || wait.gone || wait.stopping || &wait.request == &request ||
        wait.request.listener_inode != request.listener_inode) {
      continue;
    }
    wait.gone = true;  // answered here: its own accept stops
    interrupt(wait);
    tuner_.act_for(wait.request.call.thread());  // perhaps another process's
    return deliver(wait.request, std::move(connection));
  }
  Undelivered kept{std::move(connection),
                   request.listener_inode,
                   request.fd,
                   request.call.thread(),
                   error,
                   std::chrono::steady_clock::now()};
  undelivered_.push_back(std::move(kept));
  if (tuner_.logging(LogLevel::kDebug)) {
    LogLine line;
    line.add("pid ").add(static_cast<int>(request.call.thread())).add(" fd ").add(request.fd);
    line.add(": a connection accepted for the program could not be handed over (");
    add_handover_failure(&line, error);
    line.add("); kept for the next accept on this listener");
    tuner_.log(line);
  }
}

bool Accepts::take_undelivered(ino_t listener_inode, AcceptedConnection* connection) {
  for (auto kept = undelivered_.begin(); kept != undelivered_.end(); ++kept) {
    if (kept->listener_inode != listener_inode) continue;
    *connection = std::move(kept->connection);
    undelivered_.erase(kept);
    return true;
  }
  return false;
}

void Accepts::close_expired_undelivered() {
  const auto now = std::chrono::steady_clock::now();
  // Checked every tick while connections are kept: a longer gap is time the supervisor
  // itself was stopped (with its job), which counts against no program.
  const auto previous = last_expiry_check_;
  const auto unseen = now - previous > std::chrono::seconds(1)
                          ? now - previous
                          : std::chrono::steady_clock::duration::zero();
  last_expiry_check_ = now;
  for (auto kept = undelivered_.begin(); kept != undelivered_.end();) {
    if (kept->since <= previous) kept->since += unseen;  // kept before the gap
    // A program stopped (^Z, a debugger) accepts again when it continues: its time starts then.
    if (is_stopped(kept->pid)) kept->since = now;
    if (now - kept->since < kUndeliveredTimeout) {
      ++kept;
      continue;
    }
    // Not silently: the program lost a client, which the kernel would have kept queued. (The
    // process may be gone: the supervisor says so by COMMAND's configuration.)
    if (tuner_.supervisor_logging(LogLevel::kError)) {
      LogLine line;
      line.add("pid ").add(static_cast<int>(kept->pid)).add(" fd ").add(kept->listener_fd);
      line.add(": a connection from ");
      add_address(&line, reinterpret_cast<const sockaddr*>(&kept->connection.peer),
                  kept->connection.peer_length);
      line.add(" accepted for the program could not be handed over (");
      add_handover_failure(&line, kept->error);
      line.add(") and no accept on the listener came for 10 s: closed");
      tuner_.log_as_supervisor(line);
    }
    kept = undelivered_.erase(kept);
  }
}

}  // namespace kashim::supervise
