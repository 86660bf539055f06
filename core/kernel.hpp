// kashim's own system calls, made directly rather than through libc's exported functions.
//
// Whatever the shim does on its own account (reading an option back, the peer's address,
// its configuration file and the sysctls, its log lines, the memory it maps) must reach the
// kernel and nothing else: a program may define and export getsockopt, fstat, open, write,
// mmap... itself (linked with --export-dynamic for its plugins), and an interposer in front
// of libkashim.so sees every call made through the dynamic linker; either would get calls
// the program never made (ExportedFunctions.*). None of these is a cancellation point either.
//
// At start they also cost less: the constructor's first calls into libc cost a fresh
// process ~17 us in lazy bindings and first touches of libc's pages, where the system calls
// themselves take well under a microsecond (doc/performance.md, scripts/bench 5).
//
// x86-64 and aarch64 make the call here; other architectures go through libc's syscall().
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace kashim::kernel {

// The raw system call: the kernel's result, a negative errno on failure. errno untouched.
inline long raw(long number, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                long a5 = 0) {
#if defined(__x86_64__)
  long result = number;
  register long r10 asm("r10") = a3;
  register long r8 asm("r8") = a4;
  register long r9 asm("r9") = a5;
  asm volatile("syscall"
               : "+a"(result)
               : "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return result;
#elif defined(__aarch64__)
  register long x8 asm("x8") = number;
  register long x0 asm("x0") = a0;
  register long x1 asm("x1") = a1;
  register long x2 asm("x2") = a2;
  register long x3 asm("x3") = a3;
  register long x4 asm("x4") = a4;
  register long x5 asm("x5") = a5;
  asm volatile("svc 0"
               : "+r"(x0)
               : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
               : "memory");
  return x0;
#else
  const int saved = errno;
  long result = syscall(number, a0, a1, a2, a3, a4, a5);
  if (result < 0) result = -errno;
  errno = saved;
  return result;
#endif
}

// As libc's functions answer: -1 with errno set on failure.
inline long as_libc(long result) {
  if (result < 0 && result > -4096) {
    errno = static_cast<int>(-result);
    return -1;
  }
  return result;
}

template <typename Pointer>
long arg(Pointer* pointer) {
  return reinterpret_cast<long>(pointer);
}

inline int getsockopt(int fd, int level, int optname, void* value, socklen_t* length) {
  return static_cast<int>(
      as_libc(raw(SYS_getsockopt, fd, level, optname, arg(value), arg(length))));
}

inline int getpeername(int fd, sockaddr* address, socklen_t* length) {
  return static_cast<int>(as_libc(raw(SYS_getpeername, fd, arg(address), arg(length))));
}

// fstat(2), as newfstatat(fd, "", AT_EMPTY_PATH): the call the loader makes, which a
// launcher's seccomp list that lets a program start has to allow.
inline int fstat(int fd, struct stat* file) {
#if defined(__x86_64__) || defined(__aarch64__)
  // The kernel's struct stat is libc's here; elsewhere (i386's old stat) libc translates.
  return static_cast<int>(as_libc(raw(SYS_newfstatat, fd, arg(""), arg(file), AT_EMPTY_PATH)));
#else
  return ::fstat(fd, file);
#endif
}

inline int open(const char* path, int flags, mode_t mode = 0) {
  return static_cast<int>(as_libc(raw(SYS_openat, AT_FDCWD, arg(path), flags, mode)));
}

inline ssize_t read(int fd, void* buffer, size_t size) {
  return as_libc(raw(SYS_read, fd, arg(buffer), static_cast<long>(size)));
}

inline ssize_t write(int fd, const void* data, size_t size) {
  return as_libc(raw(SYS_write, fd, arg(data), static_cast<long>(size)));
}

inline ssize_t writev(int fd, const iovec* pieces, int count) {
  return as_libc(raw(SYS_writev, fd, arg(pieces), count));
}

// At the file's position (offset -1), as pwritev2(fd, pieces, count, -1, flags).
inline ssize_t pwritev2(int fd, const iovec* pieces, int count, int flags) {
  return as_libc(raw(SYS_pwritev2, fd, arg(pieces), count, -1, -1, flags));
}

inline int close(int fd) {
  return static_cast<int>(as_libc(raw(SYS_close, fd)));
}

inline ssize_t readlink(const char* path, char* buffer, size_t size) {
  return as_libc(raw(SYS_readlinkat, AT_FDCWD, arg(path), arg(buffer), static_cast<long>(size)));
}

// `size` bytes of zeroed private memory, or nullptr with errno set (RLIMIT_AS).
inline void* map_anonymous(size_t size) {
#ifdef SYS_mmap2  // 32-bit architectures: the offset in pages (0 here either way)
  constexpr long kMmap = SYS_mmap2;
#else
  constexpr long kMmap = SYS_mmap;
#endif
  const long result = as_libc(raw(kMmap, 0, static_cast<long>(size), PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  return result == -1 ? nullptr : reinterpret_cast<void*>(result);
}

inline int unmap(void* address, size_t size) {
  return static_cast<int>(as_libc(raw(SYS_munmap, arg(address), static_cast<long>(size))));
}

// The kernel's set of signals: _NSIG - 1 bits (libc's sigset_t is 128 bytes, for the stack
// of a hook that may run in a signal handler, 16 times too many).
struct SignalSet {
  static constexpr int kBits = 8 * sizeof(unsigned long);
  unsigned long words[(_NSIG - 1 + kBits - 1) / kBits] = {};
  void add(int number) { words[(number - 1) / kBits] |= 1UL << ((number - 1) % kBits); }
  bool has(int number) const {
    return (words[(number - 1) / kBits] & (1UL << ((number - 1) % kBits))) != 0;
  }
};

// This thread's signal mask, as pthread_sigmask(how, set, previous).
inline int mask_signals(int how, const SignalSet* set, SignalSet* previous) {
  return static_cast<int>(
      as_libc(raw(SYS_rt_sigprocmask, how, arg(set), arg(previous), sizeof(SignalSet))));
}

inline int pending_signals(SignalSet* pending) {
  return static_cast<int>(as_libc(raw(SYS_rt_sigpending, arg(pending), sizeof(SignalSet))));
}

// Takes one pending signal of `set` without waiting: its number, or -1 (EAGAIN: none).
inline int take_pending_signal(const SignalSet* set) {
  const timespec now{};
  return static_cast<int>(
      as_libc(raw(SYS_rt_sigtimedwait, arg(set), 0, arg(&now), sizeof(SignalSet))));
}

// poll() without waiting: ppoll with a zero timeout (aarch64 has no poll).
inline int poll_now(pollfd* entries, nfds_t count) {
  const timespec now{};
  return static_cast<int>(
      as_libc(raw(SYS_ppoll, arg(entries), static_cast<long>(count), arg(&now), 0, 0)));
}

}  // namespace kashim::kernel
