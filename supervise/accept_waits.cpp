// The blocking accepts: each waits in a thread of its own, in the kernel's own accept on the
// supervisor's copy of the listener, so that the kernel's rules hold (one connection per
// waiter, shutdown(SHUT_RD) wakes it with EINVAL, closing the listener does not).
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>

#include "accept.hpp"

namespace kashim::supervise {
namespace {

// How often the waiting accepts are checked: when a signal interrupts the program's call,
// the kernel tells no one, and the copy of the listener is held until this check sees it.
constexpr int kTickMs = 20;

// Interrupts a waiting thread's accept (a handler without SA_RESTART: the accept fails with
// EINTR). Blocked everywhere but in a waiting thread, inside its accept.
int interrupt_signal() {
  return SIGRTMIN;
}

sigset_t only_interrupt_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, interrupt_signal());
  return set;
}

}  // namespace

Accepts::Accepts(Tuner& tuner, bool install_supported)
    : tuner_(tuner), install_supported_(install_supported) {
  struct sigaction action {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  sigaction(interrupt_signal(), &action, nullptr);
  sigset_t set = only_interrupt_signal();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the threads started here inherit it
}

void Accepts::start_waiting(AcceptRequest request) {
  collect_finished();  // a program restarting an interrupted accept makes many
  if (waits_.size() >= kMaxWaits) return request.call.continue_call();
  UniqueFd caller_pidfd = open_thread_pidfd(request.call.thread());
  if (!caller_pidfd) return request.call.continue_call();  // gone, or out of descriptors
  Wait& wait = waits_.emplace_back(std::move(request));
  wait.caller_pidfd = std::move(caller_pidfd);
  try {
    wait.thread = std::thread(&Accepts::wait_for_connection, this, &wait);
  } catch (const std::system_error&) {  // no thread to wait in: the kernel waits
    wait.request.call.continue_call();
    waits_.pop_back();
  }
}

void Accepts::wait_for_connection(Wait* wait) {
  const AcceptRequest& request = wait->request;
  const sigset_t interrupt = only_interrupt_signal();
  for (;;) {
    AcceptedConnection connection;
    socklen_t peer_length = sizeof connection.peer;
    // The signal is let in only here: sent before, it is taken as the accept starts; sent
    // during, it ends the accept. tick() sends it again until this thread has finished.
    pthread_sigmask(SIG_UNBLOCK, &interrupt, nullptr);
    const int fd =
        wait->gone || wait->stopping
            ? -1
            : accept4(request.listener.get(), reinterpret_cast<sockaddr*>(&connection.peer),
                      &peer_length, request.flags | SOCK_CLOEXEC);
    const int error = fd < 0 ? errno : 0;
    pthread_sigmask(SIG_BLOCK, &interrupt, nullptr);
    std::lock_guard<std::mutex> hold(lock_);
    tuner_.act_for(request.call.thread());  // other calls were served while this one waited
    if (fd >= 0) {
      connection.socket = UniqueFd(fd);
      connection.peer_length = peer_length;
      deliver(request, std::move(connection));  // kept for the next accept if the call is gone
    } else if (wait->stopping && !wait->gone) {
      wait->unanswered = true;
    } else if (!wait->gone && error != EINTR) {
      answer_failure(request, error);  // EINVAL after shutdown(SHUT_RD), ...
    } else if (!wait->gone) {
      continue;
    }
    // A call gone with its thread (exit, exec) may leave its port to be bound again at once:
    // the copy of the listener goes now, not when the wait is collected.
    if (wait->gone) wait->request.listener = UniqueFd();
    break;
  }
  wait->finished = true;
}

void Accepts::collect_finished() {
  for (auto wait = waits_.begin(); wait != waits_.end();) {
    if (!wait->finished) {
      ++wait;
      continue;
    }
    wait->thread.join();  // it holds no lock any more
    if (wait->unanswered) stopped_.push_back(std::move(wait->request));
    wait = waits_.erase(wait);
  }
}

void Accepts::interrupt(Wait& wait) {
  pthread_kill(wait.thread.native_handle(), interrupt_signal());
}

void Accepts::on_notification(pid_t thread) {
  for (Wait& wait : waits_) {
    if (wait.finished || wait.request.call.thread() != thread) continue;
    wait.gone = true;
    interrupt(wait);
  }
}

nfds_t Accepts::watch_waiting_threads(pollfd* entries) {
  std::lock_guard<std::mutex> hold(lock_);
  nfds_t count = 0;
  for (const Wait& wait : waits_) {
    // Those already told to stop are not watched: their pidfds would stay readable.
    if (wait.finished || wait.gone || wait.stopping || count == kMaxWaits) continue;
    entries[count++] = {wait.caller_pidfd.get(), POLLIN, 0};
  }
  return count;
}

void Accepts::check_now() {
  last_check_ = std::chrono::steady_clock::now();
  check_waits();
}

int Accepts::tick_interval_ms() {
  std::lock_guard<std::mutex> hold(lock_);
  return waits_.empty() && undelivered_.empty() ? -1 : kTickMs;
}

void Accepts::tick() {
  // Not at every notification of a busy program: the check costs one ioctl per wait.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < std::chrono::milliseconds(kTickMs)) return;
  last_check_ = now;
  check_waits();
}

void Accepts::check_waits() {
  std::lock_guard<std::mutex> hold(lock_);
  collect_finished();
  for (auto wait = waits_.begin(); wait != waits_.end(); ++wait) {
    if (!wait->gone && !wait->stopping && !wait->request.call.still_waiting()) wait->gone = true;
    if (wait->gone || wait->stopping) interrupt(*wait);
  }
  close_expired_undelivered();
}

void Accepts::stop_waiting() {
  std::unique_lock<std::mutex> hold(lock_);
  for (Wait& wait : waits_) wait.stopping = true;
  while (!waits_.empty()) {
    hold.unlock();
    poll(nullptr, 0, 1);  // the threads need the lock to finish
    check_waits();
    hold.lock();
  }
}

void Accepts::resume_waiting() {
  std::lock_guard<std::mutex> hold(lock_);
  std::vector<AcceptRequest> stopped = std::move(stopped_);
  stopped_.clear();
  for (AcceptRequest& request : stopped) {
    if (request.call.still_waiting()) start_waiting(std::move(request));
  }
}

}  // namespace kashim::supervise
