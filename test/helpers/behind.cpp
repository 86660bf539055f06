// libkashim_behind.so: another interposer of setsockopt() (a tracer, a second shim),
// preloaded after libkashim.so. The shim must hand it every call, its forced values
// included, rather than go past it to the kernel. At exit it appends each IPPROTO_TCP call
// it saw to $KASHIM_BEHIND_REPORT as "optname=value" lines, in order. With
// $KASHIM_BEHIND_MAX_IDLE it also judges values, as a cgroup setsockopt program or a seccomp
// supervisor may: a TCP_KEEPIDLE above it fails with EPERM.
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct Call {
  int optname;
  int value;
};
constexpr int kMaxCalls = 64;
Call g_calls[kMaxCalls];
std::atomic<int> g_count{0};

__attribute__((destructor)) void report() {
  const char* path = getenv("KASHIM_BEHIND_REPORT");
  if (path == nullptr) return;
  if (FILE* out = fopen(path, "a")) {
    int count = g_count.load() < kMaxCalls ? g_count.load() : kMaxCalls;
    for (int i = 0; i < count; ++i) fprintf(out, "%d=%d\n", g_calls[i].optname, g_calls[i].value);
    fclose(out);
  }
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int setsockopt(int fd, int level, int optname,
                                                                 const void* optval,
                                                                 socklen_t optlen) noexcept {
  if (level == IPPROTO_TCP && optval != nullptr && optlen >= sizeof(int)) {
    int slot = g_count.fetch_add(1);
    if (slot < kMaxCalls) {
      g_calls[slot].optname = optname;
      std::memcpy(&g_calls[slot].value, optval, sizeof(int));
    }
  }
  static const char* max_idle = getenv("KASHIM_BEHIND_MAX_IDLE");
  if (max_idle != nullptr && level == IPPROTO_TCP && optname == TCP_KEEPIDLE && optval != nullptr &&
      optlen >= sizeof(int)) {
    int value;
    std::memcpy(&value, optval, sizeof value);
    if (value > atoi(max_idle)) {
      errno = EPERM;
      return -1;
    }
  }
  using Setsockopt = int (*)(int, int, int, const void*, socklen_t);
  static Setsockopt next = reinterpret_cast<Setsockopt>(dlsym(RTLD_NEXT, "setsockopt"));
  return next(fd, level, optname, optval, optlen);
}
