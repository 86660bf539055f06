// accept() and accept4() under a peer filter (KASHIM_PEERS): the listener cannot be tuned
// (the kernel would copy its options to every connection, matching or not), so each
// accepted connection is decided by itself, as the library decides it. The supervisor
// makes the program's accept itself, on its copy of the listener, decides and tunes the
// connection with the peer it now knows, writes the peer's address where the program asked
// for it, and installs the connection in the program while answering the call
// (SECCOMP_ADDFD_FLAG_SEND, one step: a thread interrupted meanwhile gets nothing).
//
// A blocking accept waits in a thread of its own, so that the program's other calls are
// answered meanwhile. Whatever would make the outcome differ from the kernel's own accept
// (flags the kernel refuses, a listener with a receive timeout, a program whose descriptor
// table is full, a thread whose file-system uid or gid is not the supervisor's and would own
// the socket, a kernel before 5.14) lets the call continue untouched: the kernel accepts,
// and the connection stays untuned unless the program sets keep-alive itself.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "config.hpp"
#include "target.hpp"
#include "tuner.hpp"

namespace kashim::supervise {

// Whether the filter must notify accept and accept4: a peer filter, and a direction that
// takes in accepted connections. Every other configuration tunes the listener at listen().
bool accepts_need_notifying(const Config& config);

// A connection the supervisor accepted, with its peer as accept() gave it.
struct AcceptedConnection {
  UniqueFd socket;
  sockaddr_storage peer{};
  socklen_t peer_length = 0;
  bool decided = false;
  Decision decision;
};

// One accept call of the program, as the supervisor carries it out.
struct AcceptRequest {
  explicit AcceptRequest(const NotifiedCall& notified) : call(notified) {}
  NotifiedCall call;
  int fd = -1;                       // the program's listener
  std::uint64_t address = 0;         // where the program wants the peer's address, or 0
  std::uint64_t length_address = 0;  // its socklen_t
  int flags = 0;                     // SOCK_NONBLOCK, SOCK_CLOEXEC (accept4)
  UniqueFd listener;                 // the supervisor's copy
  ino_t listener_inode = 0;
};

class Accepts {
 public:
  // `install_supported`: SECCOMP_ADDFD_FLAG_SEND works here; without it every accept
  // continues untouched. Blocks the signal that interrupts the waiting threads, in the
  // calling thread (the one that serves notifications): call after COMMAND is started.
  Accepts(Tuner& tuner, bool install_supported);
  Accepts(const Accepts&) = delete;
  Accepts& operator=(const Accepts&) = delete;

  // Held while a notification is served: the waiting threads share the Tuner.
  std::mutex& lock() { return lock_; }

  // With lock() held: a notification of the program's `thread` arrived. A thread makes one
  // call at a time, so an accept it was waiting in is over (a signal interrupted it).
  void on_notification(pid_t thread);
  // With lock() held: an accept or accept4 notification.
  void handle(const NotifiedCall& call);

  // The most accepts that wait in threads at once; further blocking accepts continue
  // untouched (each thread counts against the user's RLIMIT_NPROC and the pids cgroup).
  static constexpr std::size_t kMaxWaits = 64;
  // For the event loop's poll(): writes to `entries` (room for kMaxWaits) one entry per
  // waiting accept, readable once the thread that made the call has exited (it exited, or
  // another thread exec'd), and returns how many.
  nfds_t watch_waiting_threads(pollfd* entries);
  // After poll(), when one of those entries was readable: the waits are checked at once
  // rather than at the next tick, so that the listener's copy is closed before the program,
  // or the next one, binds its port again.
  void check_now();
  // How long the event loop may sleep before tick() is due: -1 while nothing waits.
  int tick_interval_ms();
  // Every tick_interval_ms() at most: notices the waiting accepts whose calls are gone (a
  // signal interrupted them; the kernel tells no one) and stops their threads, so that no
  // copy of a listener the program may have closed is held for long; closes connections
  // nobody took in time.
  void tick();
  // Stops every waiting thread, leaving the calls they waited for unanswered: before the
  // supervisor forks its detached copy, which has no threads but the one that forks.
  void stop_waiting();
  // In the copy: the calls left unanswered by stop_waiting() wait again, in threads of its
  // own.
  void resume_waiting();

 private:
  struct Wait {
    explicit Wait(AcceptRequest waiting) : request(std::move(waiting)) {}
    AcceptRequest request;
    std::thread thread;
    UniqueFd caller_pidfd;          // of the program's thread that waits: readable once it exits
    std::atomic<bool> gone{false};  // the call was interrupted: nothing to answer
    std::atomic<bool> stopping{false};  // stop_waiting(): leave the call unanswered
    std::atomic<bool> unanswered{false};
    std::atomic<bool> finished{false};
  };
  struct Undelivered {
    AcceptedConnection connection;
    ino_t listener_inode = 0;
    int listener_fd = -1;
    pid_t pid = 0;
    int error = 0;
    std::chrono::steady_clock::time_point since;
  };

  // accept.cpp
  void deliver(const AcceptRequest& request, AcceptedConnection connection);
  void keep_undelivered(const AcceptRequest& request, AcceptedConnection connection, int error);
  void abort_connection(const AcceptRequest& request, AcceptedConnection connection, int error);
  bool take_undelivered(ino_t listener_inode, AcceptedConnection* connection);
  void close_expired_undelivered();
  void answer_failure(const AcceptRequest& request, int error);
  // accept_waits.cpp
  void start_waiting(AcceptRequest request);
  void wait_for_connection(Wait* wait);
  void interrupt(Wait& wait);
  void collect_finished();  // joins the threads that have finished
  void check_waits();       // tick(), whenever it is called

  Tuner& tuner_;
  const bool install_supported_;
  std::mutex lock_;
  std::list<Wait> waits_;
  std::vector<AcceptRequest> stopped_;                // by stop_waiting(), unanswered
  std::chrono::steady_clock::time_point last_check_;  // main thread only
  std::chrono::steady_clock::time_point last_expiry_check_{std::chrono::steady_clock::now()};
  std::vector<Undelivered> undelivered_;
};

}  // namespace kashim::supervise
