/* kashim_seccomp_exec SYSCALL COMMAND [ARGS...]: runs COMMAND under a seccomp filter that
   kills the process at the system call named (getsockopt, fstat or newfstatat), as a
   launcher's sandbox does (a systemd unit's SystemCallFilter= list without it, minijail,
   bwrap --seccomp). The filter is in place before the loader runs, so before any constructor.
   kashim_seccomp_exec old-pidfd COMMAND [ARGS...]: pidfd_open() of a thread (PIDFD_THREAD)
   fails with EINVAL, as on kernels before 6.9. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Installs `filter` (no_new_privs first, as an unprivileged launcher must) and runs the
   command; returns only on failure. */
static int run_under(struct sock_filter* filter, unsigned short length, char** command) {
  struct sock_fprog program = {length, filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("kashim_seccomp_exec: seccomp");
    return 2;
  }
  execv(command[0], command);
  perror("kashim_seccomp_exec: execv");
  return 127;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: kashim_seccomp_exec getsockopt|fstat|newfstatat|old-pidfd COMMAND [ARGS...]\n");
    return 2;
  }
  if (strcmp(argv[1], "old-pidfd") == 0) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_EXCL /* PIDFD_THREAD */, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return run_under(filter, sizeof filter / sizeof filter[0], argv + 2);
  }
  int number = -1;
  if (strcmp(argv[1], "getsockopt") == 0) number = SYS_getsockopt;
  if (strcmp(argv[1], "fstat") == 0) number = SYS_fstat;
  if (strcmp(argv[1], "newfstatat") == 0) number = SYS_newfstatat;
  if (number < 0) {
    fprintf(stderr,
            "kashim_seccomp_exec: %s is not one of getsockopt, fstat, newfstatat, old-pidfd\n",
            argv[1]);
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)number, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  return run_under(filter, sizeof filter / sizeof filter[0], argv + 2);
}
