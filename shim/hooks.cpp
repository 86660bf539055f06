// The entry points libkashim.so exports, and the table of the real functions behind them.
//
// Each hook calls the real function and hands the result to runtime.cpp; nothing else
// lives here, but for the one route past libc: a value force mode puts in a program's
// setsockopt() goes to the kernel directly when libc's wrapper is what lies behind. The version
// script (kashim.map) exports these seven names and nothing more.
#include <dlfcn.h>
#include <link.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "kernel.hpp"
#include "real.hpp"
#include "runtime.hpp"

// glibc declares socket() and setsockopt() __THROW, which is noexcept in C++; a definition
// must say the same. musl's headers do not.
#ifdef __GLIBC__
#define KASHIM_NOTHROW noexcept
#else
#define KASHIM_NOTHROW
#endif

namespace {

// Last resort when dlsym finds no next definition, or finds ours again (a broken load
// order): the system call itself, which can never lead back into the shim.
int syscall_socket(int domain, int type, int protocol) KASHIM_NOTHROW {
  return static_cast<int>(syscall(SYS_socket, domain, type, protocol));
}
int syscall_connect(int fd, const sockaddr* address, socklen_t length) {
  return static_cast<int>(syscall(SYS_connect, fd, address, length));
}
int syscall_accept(int fd, sockaddr* address, socklen_t* length) {
  return static_cast<int>(syscall(SYS_accept4, fd, address, length, 0));
}
int syscall_accept4(int fd, sockaddr* address, socklen_t* length, int flags) {
  return static_cast<int>(syscall(SYS_accept4, fd, address, length, flags));
}
int syscall_setsockopt(int fd, int level, int optname, const void* optval,
                       socklen_t optlen) KASHIM_NOTHROW {
  return static_cast<int>(syscall(SYS_setsockopt, fd, level, optname, optval, optlen));
}
ssize_t syscall_sendto(int fd, const void* buffer, size_t length, int flags,
                       const sockaddr* address, socklen_t address_length) {
  return syscall(SYS_sendto, fd, buffer, length, flags, address, address_length);
}
ssize_t syscall_sendmsg(int fd, const msghdr* message, int flags) {
  return syscall(SYS_sendmsg, fd, message, flags);
}

// Set while this thread is inside dlsym: if dlsym comes back into a hook (an interposed
// malloc that opens a socket, say), that call goes straight to the system call.
thread_local bool t_resolving __attribute__((tls_model("initial-exec"))) = false;

// One real function, resolved on first use: a hook can run before the shim's constructor,
// from another library's constructor. The pointer is atomic only so that two threads
// resolving at once is not a data race; both store the same value.
template <typename Function>
class RealFunction {
 public:
  constexpr RealFunction(const char* name, Function hook, Function system_call)
      : name_(name), hook_(hook), system_call_(system_call) {}

  Function get() {
    Function resolved = resolved_.load(std::memory_order_relaxed);
    return resolved != nullptr ? resolved : resolve();
  }

 private:
  // Out of line: the hooks' common path then needs no registers saved.
  [[gnu::noinline, gnu::cold]] Function resolve() {
    if (t_resolving) return system_call_;
    t_resolving = true;
    void* next = dlsym(RTLD_NEXT, name_);
    t_resolving = false;
    Function resolved = system_call_;
    if (next != nullptr && next != reinterpret_cast<void*>(hook_)) {
      resolved = reinterpret_cast<Function>(next);
    }
    resolved_.store(resolved, std::memory_order_relaxed);
    return resolved;
  }

  const char* name_;
  Function hook_;
  Function system_call_;
  std::atomic<Function> resolved_{nullptr};
};

RealFunction<decltype(&::socket)> g_socket{"socket", &::socket, syscall_socket};
RealFunction<decltype(&::connect)> g_connect{"connect", &::connect, syscall_connect};
RealFunction<decltype(&::accept)> g_accept{"accept", &::accept, syscall_accept};
RealFunction<decltype(&::accept4)> g_accept4{"accept4", &::accept4, syscall_accept4};
RealFunction<decltype(&::setsockopt)> g_setsockopt{"setsockopt", &::setsockopt, syscall_setsockopt};
RealFunction<decltype(&::sendto)> g_sendto{"sendto", &::sendto, syscall_sendto};
RealFunction<decltype(&::sendmsg)> g_sendmsg{"sendmsg", &::sendmsg, syscall_sendmsg};

// True once the constructor has seen that the setsockopt() behind the shim is libc's own:
// a forced value then goes straight to the kernel (kernel.hpp). A rewritten setsockopt thus
// costs no more than the program's own call would. Another interposer behind the shim keeps
// getting every call.
std::atomic<bool> g_setsockopt_is_libc{false};

// Whether `function` lies in the same loaded object as libc's gnu_get_libc_version. Found
// from the program headers of the loaded objects: dladdr would do, but it searches libc's
// whole symbol table, and faulting that in cost a process start 60 us.
bool defined_in_libc(void* function) {
#ifdef __GLIBC__
  struct Search {
    std::uintptr_t function, libc;
    ElfW(Addr) function_object = 0, libc_object = 0;
    bool function_found = false, libc_found = false;
  } search{reinterpret_cast<std::uintptr_t>(function),
           reinterpret_cast<std::uintptr_t>(&gnu_get_libc_version)};
  dl_iterate_phdr(
      [](dl_phdr_info* object, size_t, void* data) {
        Search& search = *static_cast<Search*>(data);
        for (int i = 0; i < object->dlpi_phnum; ++i) {
          const ElfW(Phdr)& segment = object->dlpi_phdr[i];
          if (segment.p_type != PT_LOAD) continue;
          const std::uintptr_t start = object->dlpi_addr + segment.p_vaddr;
          auto inside = [&](std::uintptr_t address) {
            return address >= start && address - start < segment.p_memsz;
          };
          if (inside(search.function)) {
            search.function_object = object->dlpi_addr;
            search.function_found = true;
          }
          if (inside(search.libc)) {
            search.libc_object = object->dlpi_addr;
            search.libc_found = true;
          }
        }
        return search.function_found && search.libc_found ? 1 : 0;
      },
      &search);
  return search.function_found && search.libc_found && search.function_object == search.libc_object;
#else
  (void)function;
  return false;
#endif
}

int setsockopt_forced(int fd, int level, int optname, const int* value) {
  if (kashim::kernel::kHasSetsockopt && g_setsockopt_is_libc.load(std::memory_order_relaxed)) {
    return kashim::kernel::setsockopt(fd, level, optname, value, sizeof *value);
  }
  return g_setsockopt.get()(fd, level, optname, value, sizeof *value);
}

// Resolving here as well as lazily means that a hook reached later from a signal handler
// finds everything ready and never calls dlsym, which takes the loader's lock.
__attribute__((constructor)) void start_kashim() {
  g_socket.get();
  g_connect.get();
  g_accept.get();
  g_accept4.get();
  g_setsockopt_is_libc.store(defined_in_libc(reinterpret_cast<void*>(g_setsockopt.get())),
                             std::memory_order_relaxed);
  g_sendto.get();
  g_sendmsg.get();
  kashim::tune_inherited_sockets();
}

}  // namespace

int kashim::real::setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  return g_setsockopt.get()(fd, level, optname, optval, optlen);
}

#define KASHIM_HOOK extern "C" __attribute__((visibility("default")))

KASHIM_HOOK int socket(int domain, int type, int protocol) KASHIM_NOTHROW {
  int fd = g_socket.get()(domain, type, protocol);
  if (fd >= 0) kashim::on_socket_created(fd, domain, type, protocol);
  return fd;
}

KASHIM_HOOK int connect(int fd, const sockaddr* address, socklen_t length) {
  kashim::before_connect(fd, address, length);
  int result = g_connect.get()(fd, address, length);
  kashim::on_connect_returned(fd, address, length, result);
  return result;
}

KASHIM_HOOK int accept(int fd, sockaddr* address, socklen_t* length) {
  int accepted = g_accept.get()(fd, address, length);
  if (accepted >= 0) kashim::on_accepted(fd, accepted);
  return accepted;
}

KASHIM_HOOK int accept4(int fd, sockaddr* address, socklen_t* length, int flags) {
  int accepted = g_accept4.get()(fd, address, length, flags);
  if (accepted >= 0) kashim::on_accepted(fd, accepted);
  return accepted;
}

KASHIM_HOOK int setsockopt(int fd, int level, int optname, const void* optval,
                           socklen_t optlen) KASHIM_NOTHROW {
  const kashim::SetsockoptPlan plan = kashim::plan_setsockopt(level, optname, optval, optlen);
  if (plan.forced != nullptr) return setsockopt_forced(fd, level, optname, plan.forced);
  if (plan.look_closer) [[unlikely]] {
    return kashim::setsockopt_looked_at(fd, level, optname, optval, optlen);
  }
  return g_setsockopt.get()(fd, level, optname, optval, optlen);
}

// TCP Fast Open connects inside the first send, without connect(). Every other send only
// pays for the flag test.
KASHIM_HOOK ssize_t sendto(int fd, const void* buffer, size_t length, int flags,
                           const sockaddr* address, socklen_t address_length) {
  if ((flags & MSG_FASTOPEN) != 0) [[unlikely]] {
    kashim::before_connect(fd, address, address_length);
  }
  return g_sendto.get()(fd, buffer, length, flags, address, address_length);
}

KASHIM_HOOK ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  if ((flags & MSG_FASTOPEN) != 0 && message != nullptr) [[unlikely]] {
    kashim::before_connect(fd, static_cast<const sockaddr*>(message->msg_name),
                           message->msg_namelen);
  }
  return g_sendmsg.get()(fd, message, flags);
}
