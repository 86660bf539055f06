/* static_client HOST PORT: connects, reports the connection's keep-alive values, then reads
 * until the peer closes (exit 0) or the connection fails (exit 1). Linked statically: no
 * dynamic linker, so no LD_PRELOAD can reach it. */
#include "common.h"

int main(int argc, char** argv) {
  static const char who[] = "static_client";
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", who);
    return 2;
  }
  struct sockaddr_storage address;
  socklen_t length;
  if (parse_address(who, argv[1], argv[2], &address, &length) != 0) return 2;
  int fd = socket(address.ss_family, SOCK_STREAM, 0);
  if (fd < 0) {
    fprintf(stderr, "%s: socket: %s\n", who, strerror(errno));
    return 1;
  }
  if (connect(fd, (struct sockaddr*)&address, length) != 0) {
    fprintf(stderr, "%s: connect: %s\n", who, strerror(errno));
    return 1;
  }
  report_keepalive(who, "connected", fd);
  return read_until_end(who, fd);
}
