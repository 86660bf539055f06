// A signal that arrives while libkashim.so looks up the real functions, at the process's
// first hooked call, and whose handler makes a socket call of its own.
//
// Built twice:
//   libkashim_review_fault.so   linked into the program (DT_NEEDED), so it sits behind a
//                               preloaded libkashim.so and in front of libc. It interposes
//                               socket() (a tracer: counts each call, then the next
//                               definition) and, in its constructor, makes the page of its
//                               own GNU hash table unreadable. Under LD_BIND_NOW nothing but
//                               the shim's look-up reads that table after start-up, so the
//                               SIGSEGV arrives exactly inside that look-up; the handler
//                               makes the page readable again and calls socket(), as any
//                               handler may.
//                               Armed only with KASHIM_REVIEW_FAULT=1 in the environment.
//   kashim_review_first_call    calls socket() once, then prints made=N (socket calls the
//                               program made, the handler's included), traced=N (calls the
//                               tracer behind the shim saw) and fault=0|1.
//   kashim_review_first_call unsetenv NAME...
//                               removes the variables from its environment (as a daemon
//                               that keeps only what it knows does), then makes its first
//                               socket and prints keepalive=N idle=N as the kernel reports.
//   kashim_review_first_call retitle   writes over its environment's strings (a process
//                               title, as setproctitle does), then the same.
//   kashim_review_first_call chroot DIR | no-open
//                               confines itself before its first socket, as a daemon does:
//                               chroot(DIR), or a seccomp filter that kills the process at
//                               any open/openat (a sandbox that allows only network calls);
//                               then prints the same.
// Without the shim nothing reads the table (fault=0, made=traced=1). With it, every call
// the program makes must still reach the interposer behind it exactly once: made=traced.
#include <dlfcn.h>
#include <link.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" int review_made();
extern "C" int review_traced();
extern "C" int review_faulted();

#ifdef KASHIM_REVIEW_PROGRAM

int read_back(int fd, int level, int option) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, option, &value, &length) == 0 ? value : -1;
}

bool forbid_open() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

int main(int argc, char** argv) {
  const bool confine =
      argc >= 2 && (std::strcmp(argv[1], "chroot") == 0 || std::strcmp(argv[1], "no-open") == 0);
  const bool retitle = argc >= 2 && std::strcmp(argv[1], "retitle") == 0;
  if (argc >= 2 && (std::strcmp(argv[1], "unsetenv") == 0 || confine || retitle)) {
    if (std::strcmp(argv[1], "unsetenv") == 0) {
      for (int i = 2; i < argc; ++i) unsetenv(argv[i]);
    } else if (retitle) {
      // setproctitle() as nginx and PostgreSQL do it: the environment's strings are written
      // over with the process title.
      for (char** entry = environ; *entry != nullptr; ++entry) {
        std::memset(*entry, 'x', std::strlen(*entry));
      }
    } else if (std::strcmp(argv[1], "chroot") == 0) {
      if (argc != 3 || chroot(argv[2]) != 0 || chdir("/") != 0) return 2;
    } else if (!forbid_open()) {
      return 2;
    }
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 1;
    std::printf("keepalive=%d\nidle=%d\n", read_back(fd, SOL_SOCKET, SO_KEEPALIVE),
                read_back(fd, IPPROTO_TCP, TCP_KEEPIDLE));
    return 0;
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 1;
  std::printf("made=%d\ntraced=%d\nfault=%d\n", review_made() + 1, review_traced(),
              review_faulted());
  return 0;
}

#else

namespace {

using Socket = int (*)(int, int, int);
Socket g_next = nullptr;
std::atomic<int> g_made_in_handler{0};
std::atomic<int> g_traced{0};
std::atomic<int> g_faulted{0};
void* g_page = nullptr;
long g_page_size = 0;

void on_fault(int, siginfo_t* info, void*) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const auto page = reinterpret_cast<std::uintptr_t>(g_page);
  if (g_page == nullptr || address < page || address >= page + g_page_size) {
    signal(SIGSEGV, SIG_DFL);  // not ours: crash as the program would
    return;
  }
  mprotect(g_page, g_page_size, PROT_READ);
  g_faulted.store(1);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);  // the handler's own socket call
  if (fd >= 0) {
    g_made_in_handler.fetch_add(1);
    close(fd);
  }
}

__attribute__((constructor)) void protect_own_hash_table() {
  g_next = reinterpret_cast<Socket>(dlsym(RTLD_NEXT, "socket"));
  const char* armed = getenv("KASHIM_REVIEW_FAULT");
  if (armed == nullptr || std::strcmp(armed, "1") != 0) return;
  const ElfW(Addr) gnu_hash = [] {
    for (const ElfW(Dyn)* entry = _DYNAMIC; entry->d_tag != DT_NULL; ++entry) {
      if (entry->d_tag == DT_GNU_HASH) return entry->d_un.d_ptr;
    }
    return ElfW(Addr){0};
  }();
  if (gnu_hash == 0) return;
  g_page_size = sysconf(_SC_PAGESIZE);
  g_page = reinterpret_cast<void*>(gnu_hash & ~static_cast<ElfW(Addr)>(g_page_size - 1));
  struct sigaction action = {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &action, nullptr);
  mprotect(g_page, g_page_size, PROT_NONE);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int socket(int domain, int type,
                                                             int protocol) noexcept {
  g_traced.fetch_add(1);
  return g_next(domain, type, protocol);
}

extern "C" int review_made() {
  return g_made_in_handler.load();
}
extern "C" int review_traced() {
  return g_traced.load();
}
extern "C" int review_faulted() {
  return g_faulted.load();
}

#endif
