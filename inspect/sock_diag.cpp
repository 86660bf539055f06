#include "sock_diag.hpp"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "unique_fd.hpp"

namespace kashim::inspect {
namespace {

std::string errno_text(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

void copy_address(int family, const __be32* address, __be16 port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = port;
    std::memcpy(&in->sin_addr, address, sizeof in->sin_addr);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = port;
    std::memcpy(&in6->sin6_addr, address, sizeof in6->sin6_addr);
  }
}

// One SOCK_DIAG_BY_FAMILY dump for `family`, every state.
bool dump_family(int query, int family, DiagTable* table, std::string* error) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<__u8>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0u;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(query, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    *error = errno_text("sock_diag request", errno);
    return false;
  }
  // Aligned for nlmsghdr; big enough for the kernel's usual batch of 16 KiB or more.
  alignas(nlmsghdr) static char buffer[64 * 1024];
  for (;;) {
    ssize_t got = recv(query, buffer, sizeof buffer, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      *error = errno_text("sock_diag reply", errno);
      return false;
    }
    if (got == 0) return true;
    int remaining = static_cast<int>(got);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, remaining);
         header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_type == NLMSG_DONE) return true;
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* failure = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
        // A kernel without IPv6 answers ENOENT for that family: nothing to list.
        if (failure->error == -ENOENT) return true;
        *error = errno_text("sock_diag", -failure->error);
        return false;
      }
      if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      const auto* entry = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
      if (entry->idiag_inode == 0) continue;  // TIME_WAIT and requests belong to no descriptor
      DiagSocket socket;
      socket.inode = entry->idiag_inode;
      socket.family = entry->idiag_family;
      socket.state = entry->idiag_state;
      copy_address(socket.family, entry->id.idiag_src, entry->id.idiag_sport, &socket.local);
      copy_address(socket.family, entry->id.idiag_dst, entry->id.idiag_dport, &socket.peer);
      socket.timer = entry->idiag_timer;
      socket.timer_expires_ms = entry->idiag_expires;
      socket.probes = entry->idiag_retrans;
      (*table)[socket.inode] = socket;
    }
  }
}

bool dump_with(int query, DiagTable* table, std::string* error) {
  return dump_family(query, AF_INET, table, error) && dump_family(query, AF_INET6, table, error);
}

UniqueFd diag_socket() {
  return UniqueFd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
}

}  // namespace

bool dump_tcp_sockets(DiagTable* table, std::string* error) {
  UniqueFd query = diag_socket();
  if (!query) {
    *error = errno_text("sock_diag socket", errno);
    return false;
  }
  return dump_with(query.get(), table, error);
}

bool dump_tcp_sockets_in(int netns_fd, DiagTable* table, std::string* error) {
  UniqueFd own(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) {
    *error = errno_text("/proc/thread-self/ns/net", errno);
    return false;
  }
  if (setns(netns_fd, CLONE_NEWNET) != 0) {
    *error = errno_text("entering its network namespace", errno);
    return false;
  }
  // A netlink socket stays in the namespace it was made in.
  UniqueFd query = diag_socket();
  const int made_error = errno;
  if (setns(own.get(), CLONE_NEWNET) != 0) {
    *error = errno_text("returning to our own network namespace", errno);
    return false;
  }
  if (!query) {
    *error = errno_text("sock_diag socket", made_error);
    return false;
  }
  return dump_with(query.get(), table, error);
}

const char* tcp_state_name(int state) {
  static const char* const kNames[] = {
      "UNKNOWN", "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",  "TIME-WAIT",
      "CLOSE",   "CLOSE-WAIT",  "LAST-ACK", "LISTEN",   "CLOSING",    "NEW-SYN-RECV"};
  return state >= 0 && state < static_cast<int>(std::size(kNames)) ? kNames[state] : "UNKNOWN";
}

const char* timer_name(int timer) {
  switch (timer) {
    case 1:
      return "retransmit";
    case 2:
      return "keepalive";
    case 3:
      return "time-wait";
    case 4:
      return "zero-window";
    default:
      return "";
  }
}

}  // namespace kashim::inspect
