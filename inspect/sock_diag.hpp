// Every TCP socket of a network namespace as the kernel's sock_diag interface describes it:
// inode, state, addresses and the keep-alive (or other) timer with its probe count.
//
// sock_diag(7) needs no permission over the processes holding the sockets, so it is what
// `kashim status` still shows when a process's descriptors cannot be duplicated.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace kashim::inspect {

// What inet_diag_msg says about one socket.
struct DiagSocket {
  ino_t inode = 0;
  int family = AF_UNSPEC;  // AF_INET or AF_INET6
  int state = 0;           // TCP_ESTABLISHED, TCP_LISTEN, ... (netinet/tcp.h)
  sockaddr_storage local{};
  sockaddr_storage peer{};
  // idiag_timer: 0 none, 1 retransmission, 2 keep-alive, 3 TIME_WAIT, 4 zero-window probe.
  int timer = 0;
  unsigned timer_expires_ms = 0;  // idiag_expires
  unsigned probes = 0;            // idiag_retrans: probes (or retransmissions) sent so far
};

using DiagTable = std::unordered_map<ino_t, DiagSocket>;

// Dumps every TCP socket (IPv4 and IPv6, all states) of the calling thread's network
// namespace into `table`, keyed by inode; sockets without an inode (TIME_WAIT, half-open
// requests) are left out. False with `error` set when the kernel refuses.
bool dump_tcp_sockets(DiagTable* table, std::string* error);

// The same for the network namespace `netns_fd` refers to (an open /proc/PID/ns/net): the
// query socket is made inside it, which needs CAP_SYS_ADMIN there. The calling thread is
// back in its own namespace afterwards.
bool dump_tcp_sockets_in(int netns_fd, DiagTable* table, std::string* error);

// "ESTABLISHED", "LISTEN", ... as the kernel's tcp_states.h names them.
const char* tcp_state_name(int state);
// "keepalive", "retransmit", "time-wait", "zero-window", or "" for none.
const char* timer_name(int timer);

}  // namespace kashim::inspect
