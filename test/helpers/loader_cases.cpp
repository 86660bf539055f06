// kashim_loader_cases: programs that meet the dynamic loader's corner cases with the shim.
//   fork-in-iterate   a thread sits inside a dl_iterate_phdr callback (an unwinder, a
//                     profiler) while another forks; the child then makes its first socket
//                     call. glibc does not reset the loader's lock in the child: a hook that
//                     took it would wait for ever. Prints "child: exit N" or "child: hung".
//   dlopen LIB OTHER  dlopen()s LIB (libkashim.so) and then OTHER, both RTLD_LOCAL, and
//                     calls LIB's setsockopt(TCP_NODELAY) on a TCP socket: dlsym(RTLD_NEXT)
//                     from LIB's place would find libc's, never OTHER's. Prints its result.
//   dlopen-lazy LIB OTHER
//                     the same with RTLD_LAZY: what LIB's constructor calls is bound then, so
//                     that LD_DEBUG=bindings shows it.
//   dlopen-after-setenv LIB OTHER
//                     dlopen-lazy after a setenv() that moves the environment off the
//                     initial stack: LIB's constructor then gets an environment the auxiliary
//                     vector does not follow.
#include <dlfcn.h>
#include <link.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int g_in_callback[2], g_release[2];

int hold_in_callback(dl_phdr_info*, size_t, void*) {
  char c = 'x';
  if (write(g_in_callback[1], &c, 1) != 1 || read(g_release[0], &c, 1) != 1) return 1;
  return 1;
}

int fork_in_iterate() {
  if (pipe(g_in_callback) != 0 || pipe(g_release) != 0) return 2;
  pthread_t walker;
  pthread_create(
      &walker, nullptr,
      [](void*) -> void* { return (void*)(long)dl_iterate_phdr(hold_in_callback, nullptr); },
      nullptr);
  char c;
  if (read(g_in_callback[0], &c, 1) != 1) return 2;
  const pid_t child = fork();
  if (child == 0) {
    alarm(10);  // a hang ends as SIGALRM
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    _exit(fd >= 0 ? 0 : 1);
  }
  if (write(g_release[1], "x", 1) != 1) return 2;
  pthread_join(walker, nullptr);
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) {
    printf("child: hung (signal %d)\n", WTERMSIG(status));
  } else {
    printf("child: exit %d\n", WEXITSTATUS(status));
  }
  return 0;
}

int dlopen_then_other(const char* library, const char* other, int binding) {
  void* first = dlopen(library, binding | RTLD_LOCAL);
  void* later = first != nullptr ? dlopen(other, binding | RTLD_LOCAL) : nullptr;
  if (later == nullptr) {
    printf("dlopen: %s\n", dlerror());
    return 2;
  }
  using Setsockopt = int (*)(int, int, int, const void*, socklen_t);
  auto hook = reinterpret_cast<Setsockopt>(dlsym(first, "setsockopt"));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  printf("setsockopt: %d\n",
         hook != nullptr ? hook(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) : -2);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "fork-in-iterate") == 0) return fork_in_iterate();
  if (argc == 4 && strcmp(argv[1], "dlopen") == 0) {
    return dlopen_then_other(argv[2], argv[3], RTLD_NOW);
  }
  if (argc == 4 && strcmp(argv[1], "dlopen-lazy") == 0) {
    return dlopen_then_other(argv[2], argv[3], RTLD_LAZY);
  }
  if (argc == 4 && strcmp(argv[1], "dlopen-after-setenv") == 0) {
    extern char** environ;
    char** before = environ;
    setenv("KASHIM_LOADER_CASES_ADDED", "1", 1);
    if (environ == before) return 2;  // not the case this is for
    return dlopen_then_other(argv[2], argv[3], RTLD_LAZY);
  }
  fprintf(stderr,
          "usage: kashim_loader_cases fork-in-iterate | dlopen LIB OTHER |"
          " dlopen-lazy LIB OTHER | dlopen-after-setenv LIB OTHER\n");
  return 2;
}
