/* A C program linked against musl (as on Alpine): one loopback connection, made the way
 * real programs do, and what the kernel holds for each end, on stdout:
 *   client=KEEPALIVE/IDLE/INTVL/CNT accepted=KEEPALIVE/IDLE/INTVL/CNT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static int get(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1;
}

static void show(const char* label, int fd) {
  printf("%s=%d/%d/%d/%d", label, get(fd, SOL_SOCKET, SO_KEEPALIVE),
         get(fd, IPPROTO_TCP, TCP_KEEPIDLE), get(fd, IPPROTO_TCP, TCP_KEEPINTVL),
         get(fd, IPPROTO_TCP, TCP_KEEPCNT));
}

int main(void) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof address;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || bind(listener, (struct sockaddr*)&address, length) != 0 ||
      listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr*)&address, &length) != 0) {
    perror("listener");
    return 1;
  }
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0 || connect(client, (struct sockaddr*)&address, length) != 0) {
    perror("connect");
    return 1;
  }
  int accepted = accept(listener, NULL, NULL);
  if (accepted < 0) {
    perror("accept");
    return 1;
  }
  show("client", client);
  printf(" ");
  show("accepted", accepted);
  printf("\n");
  return 0;
}
