// The system calls every process pays for at start (newfstatat of fd 2, fd 0 and
// /etc/kashim.conf; getsockopt of a standard input that is a socket), made without libc.
//
// Measured (doc/performance.md, scripts/bench 5): the constructor's first calls into libc
// (fstat, getsockopt, errno, strncmp) cost a fresh process ~17 us, as lazy bindings and
// first touches of libc's code pages, where the system calls themselves take well under a
// microsecond; making them directly cut kashim's start from 1.032 to ~1.01 of an empty
// preloaded library, for every process on a host that preloads it. x86-64 and aarch64 make
// the call here; other architectures go through libc's syscall().
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace kashim::start {

// The raw system call: the kernel's result, a negative errno on failure. errno untouched.
inline long call(long number, long a0, long a1, long a2 = 0, long a3 = 0, long a4 = 0) {
#if defined(__x86_64__)
  long result = number;
  register long r10 asm("r10") = a3;
  register long r8 asm("r8") = a4;
  asm volatile("syscall"
               : "+a"(result)
               : "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8)
               : "rcx", "r11", "memory");
  return result;
#elif defined(__aarch64__)
  register long x8 asm("x8") = number;
  register long x0 asm("x0") = a0;
  register long x1 asm("x1") = a1;
  register long x2 asm("x2") = a2;
  register long x3 asm("x3") = a3;
  register long x4 asm("x4") = a4;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
#else
  const int saved = errno;
  long result = syscall(number, a0, a1, a2, a3, a4);
  if (result < 0) result = -errno;
  errno = saved;
  return result;
#endif
}

}  // namespace kashim::start
