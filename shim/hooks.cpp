// The entry points libkashim.so exports, and the table of the real functions behind them.
//
// Each hook calls the real function and hands the result to events.hpp; nothing else lives
// here. (A setsockopt() of an option kashim manages is made by events.hpp itself, which in
// force mode may put the operator's value in the program's call.) The hooked names are listed
// once more in kashim.map (what the library exports) and audit.cpp (what the audit module
// redirects); a test holds the three lists equal.
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "events.hpp"
#include "next_definition.hpp"
#include "real.hpp"

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
// malloc that opens a socket, say), that call takes what the tables found and the system
// call for the rest. The tables' walk itself only reads, so a signal handler that interrupts
// it on the same thread walks them again and reaches the same functions.
thread_local bool t_in_dlsym __attribute__((tls_model("initial-exec"))) = false;

void resolve_all();

// One real function, resolved at the first call of any hook (resolve_all(), for every hook
// at once), not by the constructor: looking the names up reads libc's symbol tables, pages
// that a process which never opens a socket would otherwise not touch (~4 us of every
// process start). The look-up allocates nothing and enters dlsym only where the tables cannot
// answer (next_definition.hpp), so a first call made from a signal handler does not enter
// the allocator. The pointer is
// atomic only so that two threads resolving at once is not a data race; both store the same value.
template <typename Function>
class RealFunction {
 public:
  constexpr RealFunction(const char* name, Function hook, Function system_call)
      : name_(name), hook_(hook), system_call_(system_call) {}

  Function get() {
    Function resolved = resolved_.load(std::memory_order_relaxed);
    return resolved != nullptr ? resolved : first_get();
  }

  const char* name() const { return name_; }

  // What is behind the hook: `next` (found by reading the loaded objects' tables), else
  // what dlsym finds, else the system call when there is nothing or dlsym hands back the
  // hook itself (a broken load order). Nothing is stored when the tables had no answer and
  // dlsym cannot be asked (this thread is inside it already).
  [[gnu::noinline, gnu::cold]] void resolve(void* next) {
    if (resolved_.load(std::memory_order_relaxed) != nullptr) return;
    if (next == nullptr) {
      if (t_in_dlsym) return;
      t_in_dlsym = true;
      next = dlsym(RTLD_NEXT, name_);
      t_in_dlsym = false;
    }
    Function resolved = system_call_;
    if (next != nullptr && next != reinterpret_cast<void*>(hook_)) {
      resolved = reinterpret_cast<Function>(next);
    }
    resolved_.store(resolved, std::memory_order_relaxed);
  }

 private:
  // Out of line: the hooks' common path then needs no registers saved.
  [[gnu::noinline, gnu::cold]] Function first_get() {
    resolve_all();
    Function resolved = resolved_.load(std::memory_order_relaxed);
    return resolved != nullptr ? resolved : system_call_;  // from inside dlsym only
  }

  const char* name_;
  Function hook_;
  Function system_call_;
  std::atomic<Function> resolved_{nullptr};
};

}  // namespace

// Each hook under a hidden name: its address in this object needs no symbol look-up when
// the library is loaded (&::socket would: a relocation of its own in every process).
#define KASHIM_HERE(name)                                                                        \
  extern "C" decltype(::name) kashim_here_##name __attribute__((alias(#name), visibility("hidde" \
                                                                                         "n")))
KASHIM_HERE(socket);
KASHIM_HERE(connect);
KASHIM_HERE(accept);
KASHIM_HERE(accept4);
KASHIM_HERE(setsockopt);
KASHIM_HERE(sendto);
KASHIM_HERE(sendmsg);

namespace {

RealFunction<decltype(&::socket)> g_socket{"socket", kashim_here_socket, syscall_socket};
RealFunction<decltype(&::connect)> g_connect{"connect", kashim_here_connect, syscall_connect};
RealFunction<decltype(&::accept)> g_accept{"accept", kashim_here_accept, syscall_accept};
RealFunction<decltype(&::accept4)> g_accept4{"accept4", kashim_here_accept4, syscall_accept4};
RealFunction<decltype(&::setsockopt)> g_setsockopt{"setsockopt", kashim_here_setsockopt,
                                                   syscall_setsockopt};
RealFunction<decltype(&::sendto)> g_sendto{"sendto", kashim_here_sendto, syscall_sendto};
RealFunction<decltype(&::sendmsg)> g_sendmsg{"sendmsg", kashim_here_sendmsg, syscall_sendmsg};

}  // namespace

int kashim::real::setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  return g_setsockopt.get()(fd, level, optname, optval, optlen);
}

namespace {

void resolve_all() {
  const char* const names[] = {g_socket.name(),  g_connect.name(),    g_accept.name(),
                               g_accept4.name(), g_setsockopt.name(), g_sendto.name(),
                               g_sendmsg.name()};
  constexpr int kCount = sizeof names / sizeof names[0];
  void* next[kCount];
  kashim::find_next_definitions(names, next, kCount);
  g_socket.resolve(next[0]);
  g_connect.resolve(next[1]);
  g_accept.resolve(next[2]);
  g_accept4.resolve(next[3]);
  g_setsockopt.resolve(next[4]);
  g_sendto.resolve(next[5]);
  g_sendmsg.resolve(next[6]);
}

}  // namespace

#define KASHIM_HOOK extern "C" __attribute__((visibility("default")))

KASHIM_HOOK int socket(int domain, int type, int protocol) KASHIM_NOTHROW {
  int fd = g_socket.get()(domain, type, protocol);
  if (fd >= 0) kashim::on_socket_created(fd, domain, type, protocol);
  return fd;
}

KASHIM_HOOK int connect(int fd, const sockaddr* address, socklen_t length) {
  int result = g_connect.get()(fd, address, length);
  kashim::after_connect(fd, address, length, result);
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

// setsockopt(), sendto() and sendmsg() forward most calls with nothing to do after them,
// and make that call their last act (a tail call): libc returns straight to the program, as
// behind a hook that only forwards. One return of kashim's own after the system call cost
// 20 ns per call on an AMD EPYC (doc/performance.md, scenario 4). The rare calls that need
// more go out of line, so that the common path saves no registers.

namespace {

// TCP Fast Open connects inside the first send, without connect().
[[gnu::noinline]] ssize_t send_to_fast_open(int fd, const void* buffer, size_t length, int flags,
                                            const sockaddr* address, socklen_t address_length) {
  const ssize_t sent = g_sendto.get()(fd, buffer, length, flags, address, address_length);
  kashim::after_connect(fd, address, address_length, sent);
  return sent;
}
[[gnu::noinline]] ssize_t send_message_fast_open(int fd, const msghdr* message, int flags) {
  const ssize_t sent = g_sendmsg.get()(fd, message, flags);
  kashim::after_fastopen_message(fd, message, sent);
  return sent;
}

}  // namespace

KASHIM_HOOK int setsockopt(int fd, int level, int optname, const void* optval,
                           socklen_t optlen) KASHIM_NOTHROW {
  if (kashim::names_managed_option(level, optname)) [[unlikely]] {
    return kashim::set_managed_option(fd, level, optname, optval, optlen);
  }
  return g_setsockopt.get()(fd, level, optname, optval, optlen);
}

KASHIM_HOOK ssize_t sendto(int fd, const void* buffer, size_t length, int flags,
                           const sockaddr* address, socklen_t address_length) {
  if ((flags & MSG_FASTOPEN) != 0) [[unlikely]] {
    return send_to_fast_open(fd, buffer, length, flags, address, address_length);
  }
  return g_sendto.get()(fd, buffer, length, flags, address, address_length);
}

KASHIM_HOOK ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  if ((flags & MSG_FASTOPEN) != 0) [[unlikely]] {
    return send_message_fast_open(fd, message, flags);
  }
  return g_sendmsg.get()(fd, message, flags);
}
