// refuse_pidfd_getfd COMMAND [ARGS...]: runs COMMAND with pidfd_getfd(2) failing with EPERM,
// through a seccomp filter, as a container runtime's profile or Yama's ptrace_scope refuses
// it to a process that may still read /proc/PID/fd. Exit 127 when COMMAND cannot be run,
// 77 when this architecture is not one the filter knows.
//
// refuse_pidfd_getfd --no-pidfd-thread COMMAND [ARGS...]: pidfd_getfd works, but pidfd_open
// with PIDFD_THREAD fails with EINVAL, as on a kernel before Linux 6.9.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__)
constexpr unsigned kArchitecture = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kArchitecture = AUDIT_ARCH_AARCH64;
#else
constexpr unsigned kArchitecture = 0;
#endif

int main(int argc, char** argv) {
  const bool no_pidfd_thread = argc > 1 && std::strcmp(argv[1], "--no-pidfd-thread") == 0;
  if (no_pidfd_thread) --argc, ++argv;
  if (argc < 2) {
    std::fprintf(stderr, "usage: refuse_pidfd_getfd [--no-pidfd-thread] COMMAND [ARGS...]\n");
    return 2;
  }
  if (kArchitecture == 0) {
    std::fprintf(stderr, "refuse_pidfd_getfd: no seccomp filter for this architecture\n");
    return 77;
  }
  sock_filter program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArchitecture, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_getfd, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  constexpr unsigned kPidfdThread = O_EXCL;  // linux/pidfd.h, Linux 6.9
  // The low half of the flags argument (little-endian: the first four bytes of args[1]).
  constexpr unsigned kFlagsLow = offsetof(seccomp_data, args) + sizeof(std::uint64_t);
  sock_filter thread_program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArchitecture, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kFlagsLow),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kPidfdThread, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog filter{static_cast<unsigned short>(sizeof program / sizeof program[0]), program};
  if (no_pidfd_thread) {
    filter = {static_cast<unsigned short>(sizeof thread_program / sizeof thread_program[0]),
              thread_program};
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) != 0) {
    std::fprintf(stderr, "refuse_pidfd_getfd: seccomp: %s\n", std::strerror(errno));
    return 77;
  }
  execvp(argv[1], argv + 1);
  std::fprintf(stderr, "refuse_pidfd_getfd: %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
