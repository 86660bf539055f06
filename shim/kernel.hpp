// System calls made by the shim itself, without going through libc.
//
// Only where libc's wrapper is known to be nothing but the system call, so that skipping it
// changes nothing a program can observe: the same call reaches the kernel with the same
// arguments, and a failure sets errno and returns -1 exactly as the wrapper does.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>

#include <cerrno>

namespace kashim::kernel {

// glibc's setsockopt() on x86-64 is `mov %rcx,%r10; mov $SYS_setsockopt,%eax; syscall`,
// then errno on failure: 64-bit time_t leaves it no compatibility fallback to try. Other
// architectures and C libraries keep calling libc.
#if defined(__x86_64__) && defined(__GLIBC__)
inline constexpr bool kHasSetsockopt = true;

// Out of line, so that the call it needs does not make the caller save registers.
[[gnu::noinline, gnu::cold]] inline int failed(long result) {
  errno = static_cast<int>(-result);
  return -1;
}

inline int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  long result = SYS_setsockopt;
  register const void* r10 asm("r10") = optval;
  register socklen_t r8 asm("r8") = optlen;
  asm volatile("syscall"
               : "+a"(result)
               : "D"(fd), "S"(level), "d"(optname), "r"(r10), "r"(r8)
               : "rcx", "r11", "memory");
  if (static_cast<unsigned long>(result) > -4096UL) [[unlikely]]
    return failed(result);
  return static_cast<int>(result);
}
#else
inline constexpr bool kHasSetsockopt = false;

inline int setsockopt(int, int, int, const void*, socklen_t) {
  return -1;  // never called: kHasSetsockopt is false
}
#endif

}  // namespace kashim::kernel
