// libkashim_early.so: a library whose constructor opens a socket, so that the shim's hook
// runs before (or without) the shim's own constructor, as libfaketime's issue #132 showed
// happens. The descriptor is left open and named in KASHIM_EARLY_FD for the probe.
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

__attribute__((constructor)) static void open_socket_before_main() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  char text[16];
  snprintf(text, sizeof text, "%d", fd);
  setenv("KASHIM_EARLY_FD", text, 1);
}
