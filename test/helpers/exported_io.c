/* kashim_exported_io: a program that defines getsockopt, getpeername, fstat, open, close,
   write, pwritev2, mmap and munmap itself and exports them (-rdynamic), as programs linked with
   --export-dynamic for their plugins do. Each definition counts the calls it gets from
   anyone but this program's own code, then makes the system call. The program makes one
   outgoing and one accepted TCP connection through the hooked functions and prints, on
   stdout, NAME=COUNT for every function someone else called. Without kashim: nothing. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
  kGetsockopt,
  kGetpeername,
  kFstat,
  kOpen,
  kClose,
  kWrite,
  kPwritev2,
  kMmap,
  kMunmap,
  kCount
};
static const char* const kNames[kCount] = {"getsockopt", "getpeername", "fstat", "open",  "close",
                                           "write",      "pwritev2",    "mmap",  "munmap"};
static int g_foreign[kCount];

int getsockopt(int fd, int level, int name, void* value, socklen_t* length) {
  ++g_foreign[kGetsockopt];
  return (int)syscall(SYS_getsockopt, fd, level, name, value, length);
}
int getpeername(int fd, struct sockaddr* address, socklen_t* length) {
  ++g_foreign[kGetpeername];
  return (int)syscall(SYS_getpeername, fd, address, length);
}
int fstat(int fd, struct stat* file) {
  ++g_foreign[kFstat];
  return (int)syscall(SYS_fstat, fd, file);
}
int open(const char* path, int flags, ...) {
  va_list more;
  va_start(more, flags);
  int mode = va_arg(more, int);
  va_end(more);
  ++g_foreign[kOpen];
  return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}
int close(int fd) {
  ++g_foreign[kClose];
  return (int)syscall(SYS_close, fd);
}
ssize_t write(int fd, const void* data, size_t length) {
  ++g_foreign[kWrite];
  return syscall(SYS_write, fd, data, length);
}
ssize_t pwritev2(int fd, const struct iovec* pieces, int count, off_t offset, int flags) {
  ++g_foreign[kPwritev2];
  return syscall(SYS_pwritev2, fd, pieces, count, offset, 0, flags);
}

void* mmap(void* address, size_t length, int protection, int flags, int fd, off_t offset) {
  ++g_foreign[kMmap];
  return (void*)syscall(SYS_mmap, address, length, protection, flags, fd, offset);
}
int munmap(void* address, size_t length) {
  ++g_foreign[kMunmap];
  return (int)syscall(SYS_munmap, address, length);
}

int main(void) {
  /* The listener and the peer of the accepted connection are made with system calls. */
  int listener = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (syscall(SYS_bind, listener, &address, length) != 0 || syscall(SYS_listen, listener, 8) != 0 ||
      syscall(SYS_getsockname, listener, &address, &length) != 0) {
    return 3;
  }
  int outgoing = socket(AF_INET, SOCK_STREAM, 0);
  if (outgoing < 0 || connect(outgoing, (struct sockaddr*)&address, length) != 0) return 3;
  int accepted = accept(listener, NULL, NULL);
  if (accepted < 0) return 3;
  for (int i = 0; i < kCount; ++i) {
    if (g_foreign[i] != 0) printf("%s=%d\n", kNames[i], g_foreign[i]);
  }
  return 0;
}
