// Preloaded by the benchmark beside libkashim.so: an empty library whose constructor makes
// only the three system calls kashim's must make at every start (shim/startup.cpp), to tell
// what those cost from what the rest of the library costs.
//   - fd 2 now: log lines go to stderr only while it is the file it was at start;
//   - the configuration file looked for once, so that no later call opens a file after a
//     chroot or a seccomp filter;
//   - fd 0: inetd's connection, tuned at start since such a program may make no hooked call.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// The raw call, as kashim makes it (core/kernel.hpp): a call through libc's syscall() would
// add a symbol look-up of its own to every start.
static long start_check(long a0, const char* path, struct stat* status, long flags) {
#if defined(__x86_64__)
  long result = SYS_newfstatat;
  register long r10 __asm__("r10") = flags;
  __asm__ volatile("syscall"
                   : "+a"(result)
                   : "D"(a0), "S"(path), "d"(status), "r"(r10)
                   : "rcx", "r11", "memory");
  return result;
#else
  return syscall(SYS_newfstatat, a0, path, status, flags);
#endif
}

__attribute__((constructor)) static void kashim_start_checks(void) {
  struct stat status;
  start_check(2, "", &status, AT_EMPTY_PATH);
  start_check(AT_FDCWD, "/etc/kashim.conf", &status, 0);
  start_check(0, "", &status, AT_EMPTY_PATH);
}
