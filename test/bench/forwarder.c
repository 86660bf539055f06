// A hook that only forwards to libc, as the smallest interposer's are: an exported function,
// called through the caller's PLT, that jumps to the next definition found at start. The
// benchmark measures the shim's force mode against it (scenario 4), and against the least a
// hook must do that looks at libc's answer before it returns.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>

static int (*next_setsockopt)(int, int, int, const void*, socklen_t);

int kashim_bench_forwarding_setsockopt(int fd, int level, int optname, const void* optval,
                                       socklen_t optlen) {
  return next_setsockopt(fd, level, optname, optval, optlen);
}

// The same call, and a look at its answer: a hook that may have to make a second call when
// the first is refused returns to its own code after libc's, then to the program. Nothing
// else is done; a refusal is answered as it is.
int kashim_bench_answer_checking_setsockopt(int fd, int level, int optname, const void* optval,
                                            socklen_t optlen) {
  int result = next_setsockopt(fd, level, optname, optval, optlen);
  __asm__ volatile("" : "+r"(result));  // the answer is looked at: no tail call
  return result;
}

__attribute__((constructor)) static void find_next(void) {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  next_setsockopt = (int (*)(int, int, int, const void*, socklen_t))dlsym(libc, "setsockopt");
}
