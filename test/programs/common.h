/* What the test programs share: a numeric address from the command line, a report of the
 * keep-alive values the kernel holds for a connection, and a read loop that waits for the
 * peer to go away. Plain C, so that the programs link statically with any libc. */
#ifndef KASHIM_TEST_PROGRAMS_COMMON_H
#define KASHIM_TEST_PROGRAMS_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* HOST must be numeric (IPv4 or IPv6): a static glibc cannot use NSS, and the tests only
 * ever use loopback or addresses of a namespace they made. */
static int parse_address(const char* who, const char* host, const char* port,
                         struct sockaddr_storage* address, socklen_t* length) {
  char* end = NULL;
  long number = strtol(port, &end, 10);
  if (*port == '\0' || *end != '\0' || number < 0 || number > 65535) {
    fprintf(stderr, "%s: port '%s' is not a number from 0 to 65535\n", who, port);
    return -1;
  }
  memset(address, 0, sizeof *address);
  struct sockaddr_in* v4 = (struct sockaddr_in*)address;
  struct sockaddr_in6* v6 = (struct sockaddr_in6*)address;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((unsigned short)number);
    *length = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((unsigned short)number);
    *length = sizeof *v6;
    return 0;
  }
  fprintf(stderr, "%s: host '%s' is not a numeric IPv4 or IPv6 address\n", who, host);
  return -1;
}

static int read_option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1;
}

/* One line a test can parse: "<who>: <what> keepalive=1 idle=60 intvl=10 cnt=6
 * user_timeout=0", the values read back from the kernel. */
static void report_keepalive(const char* who, const char* what, int fd) {
  fprintf(stderr, "%s: %s keepalive=%d idle=%d intvl=%d cnt=%d user_timeout=%d\n", who, what,
          read_option(fd, SOL_SOCKET, SO_KEEPALIVE), read_option(fd, IPPROTO_TCP, TCP_KEEPIDLE),
          read_option(fd, IPPROTO_TCP, TCP_KEEPINTVL), read_option(fd, IPPROTO_TCP, TCP_KEEPCNT),
          read_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
}

/* Reads (and discards) until the peer closes (exit status 0) or the kernel reports an
 * error, such as ETIMEDOUT once keep-alive found the peer dead (exit status 1). */
static int read_until_end(const char* who, int fd) {
  char buffer[4096];
  for (;;) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got > 0) continue;
    if (got == 0) {
      fprintf(stderr, "%s: end of stream\n", who);
      return 0;
    }
    if (errno == EINTR) continue;
    fprintf(stderr, "%s: read: %s\n", who, strerror(errno));
    return 1;
  }
}

#endif
