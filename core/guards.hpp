// What the shim keeps unchanged around the work it does on its own account.
//
// errno: a hook returns what the real call returned, with the real call's errno, whatever
// the shim did afterwards. Cancellation: open(), write() and close() are cancellation points;
// a thread with a cancellation pending must never be cancelled inside socket() (which is
// not one) because the shim wrote a log line, nor lose the descriptor accept() returned.
#pragma once

#include <pthread.h>

#include <cerrno>

namespace kashim {

class ErrnoGuard {
 public:
  ErrnoGuard() : saved_(errno) {}
  ~ErrnoGuard() { errno = saved_; }
  ErrnoGuard(const ErrnoGuard&) = delete;
  ErrnoGuard& operator=(const ErrnoGuard&) = delete;

 private:
  int saved_;
};

// Deferred cancellation off for the guard's lifetime. pthread_setcancelstate is not itself
// a cancellation point, and re-enabling acts on nothing until the program reaches one.
class NoCancellation {
 public:
  NoCancellation() { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &previous_); }
  ~NoCancellation() { pthread_setcancelstate(previous_, nullptr); }
  NoCancellation(const NoCancellation&) = delete;
  NoCancellation& operator=(const NoCancellation&) = delete;

 private:
  int previous_ = PTHREAD_CANCEL_ENABLE;
};

}  // namespace kashim
