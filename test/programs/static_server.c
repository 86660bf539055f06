/* static_server HOST PORT: listens (PORT 0: the kernel picks one), reports the port, accepts
 * one connection, reports its keep-alive values, then reads until the peer closes (exit 0)
 * or the connection fails (exit 1). Linked statically: no LD_PRELOAD can reach it. */
#include "common.h"

static unsigned short bound_port(int fd) {
  struct sockaddr_storage address;
  socklen_t length = sizeof address;
  if (getsockname(fd, (struct sockaddr*)&address, &length) != 0) return 0;
  if (address.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6*)&address)->sin6_port);
  return ntohs(((struct sockaddr_in*)&address)->sin_port);
}

int main(int argc, char** argv) {
  static const char who[] = "static_server";
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", who);
    return 2;
  }
  struct sockaddr_storage address;
  socklen_t length;
  if (parse_address(who, argv[1], argv[2], &address, &length) != 0) return 2;
  int listener = socket(address.ss_family, SOCK_STREAM, 0);
  if (listener < 0) {
    fprintf(stderr, "%s: socket: %s\n", who, strerror(errno));
    return 1;
  }
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(listener, (struct sockaddr*)&address, length) != 0 || listen(listener, 16) != 0) {
    fprintf(stderr, "%s: bind/listen: %s\n", who, strerror(errno));
    return 1;
  }
  fprintf(stderr, "%s: listening on port %u\n", who, bound_port(listener));
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) {
    fprintf(stderr, "%s: accept: %s\n", who, strerror(errno));
    return 1;
  }
  close(listener);
  report_keepalive(who, "accepted", fd);
  return read_until_end(who, fd);
}
