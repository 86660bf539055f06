// libkashim_deepbound.so: opened by the probe with RTLD_DEEPBIND, as PHP opens its
// extensions, so its socket() binds to libc unless libkashim-audit.so redirects it.
#include <sys/socket.h>

extern "C" __attribute__((visibility("default"))) int deepbound_socket() {
  return socket(AF_INET, SOCK_STREAM, 0);
}
