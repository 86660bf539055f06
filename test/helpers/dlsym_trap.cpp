// libkashim_dlsym_trap.so: preloaded in front of the shim, it interposes dlsym the way a
// hostile or buggy library might. Asked for the next definition of a name, it answers with
// the first one in the process — the shim's own hook — and it opens a socket from inside
// dlsym, as an interposed allocator or tracer can. The shim must neither loop nor recurse.
// At exit it appends "dlsym_trap_calls=N" to $KASHIM_TRAP_REPORT: proof that it was asked.
#include <dlfcn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

std::atomic<int> g_next_lookups{0};

__attribute__((destructor)) void report() {
  const char* path = getenv("KASHIM_TRAP_REPORT");
  if (path == nullptr) return;
  if (FILE* out = fopen(path, "a")) {
    fprintf(out, "dlsym_trap_calls=%d\n", g_next_lookups.load());
    fclose(out);
  }
}

using Dlsym = void* (*)(void*, const char*);

Dlsym real_dlsym() {
  // glibc 2.34 moved dlsym into libc with a new version; older ones have only the first.
  static Dlsym real = [] {
    void* found = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (found == nullptr) found = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    return reinterpret_cast<Dlsym>(found);
  }();
  return real;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void* dlsym(void* handle, const char* name) {
  if (handle != RTLD_NEXT) return real_dlsym()(handle, name);
  ++g_next_lookups;
  int fd = socket(AF_INET, SOCK_STREAM, 0);  // back into the hook, mid-resolution
  if (fd >= 0) close(fd);
  return real_dlsym()(RTLD_DEFAULT, name);
}
