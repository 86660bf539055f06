// What the shim keeps unchanged around the work it does on its own account.
//
// errno: a hook returns what the real call returned, with the real call's errno, whatever
// the shim did afterwards. Cancellation: open(), write() and close() are cancellation points;
// a thread with a cancellation pending must never be cancelled inside socket() (which is
// not one) because the shim wrote a log line, nor lose the descriptor accept() returned.
// Signals: a handler that longjmp()s out of the shim's own work must not leave it half done.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <cerrno>

#include "kernel.hpp"

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

// Every signal the program can catch held for the guard's lifetime, but those a fault
// raises (they cannot wait) and libc's own (32-34: glibc's cancellation and set*id(), musl's
// timer too). A handler that longjmp()s out (the "alarm around connect()" idiom) would
// otherwise skip the destructors of the guards made after this one: cancellation left
// disabled, a file of the shim's left open, a parse left claiming its slot. Held, a signal
// that arrives meanwhile is delivered as the mask is restored: made first, restored last.
// Direct rt_sigprocmask with the kernel's 8-byte sets (libc's are 128 bytes): small stacks.
class AsyncSignalsHeld {
 public:
  AsyncSignalsHeld() {
    kernel::SignalSet held;
    for (int number = 1; number < _NSIG; ++number) {
      if (!raised_by_a_fault(number) && (number < 32 || number > 34)) held.add(number);
    }
    held_ = kernel::mask_signals(SIG_BLOCK, &held, &previous_) == 0;
  }
  ~AsyncSignalsHeld() {
    if (held_) kernel::mask_signals(SIG_SETMASK, &previous_, nullptr);
  }
  AsyncSignalsHeld(const AsyncSignalsHeld&) = delete;
  AsyncSignalsHeld& operator=(const AsyncSignalsHeld&) = delete;
  bool held() const { return held_; }

 private:
  static bool raised_by_a_fault(int number) {
    return number == SIGSEGV || number == SIGBUS || number == SIGILL || number == SIGFPE ||
           number == SIGTRAP || number == SIGSYS;
  }
  kernel::SignalSet previous_;
  bool held_ = false;
};

// Around the shim's own work on a program's thread (reading its configuration or files,
// writing a line, tuning an inherited socket): signals held first, cancellation off second;
// members are destroyed last to first, so the mask is restored last.
class OwnWork {
 public:
  OwnWork() = default;
  OwnWork(const OwnWork&) = delete;
  OwnWork& operator=(const OwnWork&) = delete;
  bool signals_held() const { return held_.held(); }

 private:
  AsyncSignalsHeld held_;
  NoCancellation no_cancellation_;
};

}  // namespace kashim
