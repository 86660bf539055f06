/* kashim_exported_io: a program that defines getsockopt, getpeername, fstat, open, close,
   write, pwritev2, mmap, munmap, getpid, getppid and the string functions (strlen, strcmp,
   strchr, memcmp, memchr, memmove) itself and exports them (-rdynamic), as programs linked with
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
#include <string.h>
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
  kGetpid,
  kGetppid,
  kStrlen,
  kStrcmp,
  kStrchr,
  kMemcmp,
  kMemchr,
  kMemmove,
  kCount
};
static const char* const kNames[kCount] = {
    "getsockopt", "getpeername", "fstat",  "open",   "close",   "write",
    "pwritev2",   "mmap",        "munmap", "getpid", "getppid", "strlen",
    "strcmp",     "strchr",      "memcmp", "memchr", "memmove"};
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

pid_t getpid(void) {
  ++g_foreign[kGetpid];
  return (pid_t)syscall(SYS_getpid);
}
pid_t getppid(void) {
  ++g_foreign[kGetppid];
  return (pid_t)syscall(SYS_getppid);
}

/* The empty asm statement keeps the compiler from turning a loop into a call to itself. */
#define NO_IDIOM __asm__ volatile("" ::: "memory")
size_t strlen(const char* text) {
  ++g_foreign[kStrlen];
  size_t length = 0;
  for (; text[length] != '\0'; ++length) NO_IDIOM;
  return length;
}
int strcmp(const char* a, const char* b) {
  ++g_foreign[kStrcmp];
  for (; *a != '\0' && *a == *b; ++a, ++b) NO_IDIOM;
  return (unsigned char)*a - (unsigned char)*b;
}
char* strchr(const char* text, int wanted) {
  ++g_foreign[kStrchr];
  for (;; ++text) {
    if (*text == (char)wanted) return (char*)text;
    if (*text == '\0') return NULL;
    NO_IDIOM;
  }
}
int memcmp(const void* a, const void* b, size_t size) {
  ++g_foreign[kMemcmp];
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < size; ++i) {
    if (x[i] != y[i]) return x[i] - y[i];
    NO_IDIOM;
  }
  return 0;
}
void* memchr(const void* data, int wanted, size_t size) {
  ++g_foreign[kMemchr];
  const unsigned char* bytes = data;
  for (size_t i = 0; i < size; ++i) {
    if (bytes[i] == (unsigned char)wanted) return (void*)(bytes + i);
    NO_IDIOM;
  }
  return NULL;
}
void* memmove(void* to, const void* from, size_t size) {
  ++g_foreign[kMemmove];
  unsigned char* d = to;
  const unsigned char* s = from;
  if (d < s) {
    for (size_t i = 0; i < size; ++i) {
      d[i] = s[i];
      NO_IDIOM;
    }
  } else {
    for (size_t i = size; i > 0; --i) {
      d[i - 1] = s[i - 1];
      NO_IDIOM;
    }
  }
  return to;
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
