// What kashim's configuration would do to a socket another process already holds: the
// library's own decisions (core/decide.hpp), given the side of the connection as it can be
// told from outside.
//
// The side of a connection is not recorded by the kernel. It is told from the listeners of
// the process and of its network namespace: a connected socket whose local port is that of
// a listener (same address family, and the listener's address is the socket's or the
// wildcard) was accepted from it ("in"), whichever process holds the listener (sshd's
// sessions, pre-forked workers); any other connection was opened by the process ("out"). A
// connection whose listener has since been closed is therefore seen as "out".
#pragma once

#include <string>
#include <vector>

#include "config.hpp"
#include "decide.hpp"
#include "kernel_values.hpp"
#include "sock_diag.hpp"

namespace kashim::inspect {

enum class Side {
  kListener,     // LISTEN: what it holds, every connection accepted from now on inherits
  kAccepted,     // "in"
  kOpened,       // "out"
  kUnconnected,  // neither listening nor connected yet
};

// `listeners`: the sockets in state LISTEN of the process and of its network namespace.
Side side_of(const DiagSocket& socket, const std::vector<const DiagSocket*>& listeners);
const char* side_name(Side side);  // "listen", "in", "out", "-"

enum class Verdict {
  kNotWanted,     // the configuration leaves it alone (direction, peers, unconnected)
  kProgramsOwn,   // fallback mode and the program chose its keep-alive: its settings win
  kUnknown,       // wanted, but its values could not be read
  kAsConfigured,  // already holds every configured value
  kChange,        // applying would change `changes`
};

struct Decision {
  Verdict verdict = Verdict::kNotWanted;
  OptionBits changes = 0;  // SO_KEEPALIVE and kManagedTcpOptions bits (decide.hpp)
  std::string reason;      // why, in a few words: "direction out", "idle 7200s -> 60s"
};

// `config` must be active (parse_config succeeded, not disabled).
Decision decide_socket(const Config& config, Side side, const DiagSocket& socket,
                       const KeepaliveValues& values);

// The peer as core's filters take it: null for a socket without one.
const sockaddr* peer_of(const DiagSocket& socket, socklen_t* length);

}  // namespace kashim::inspect
