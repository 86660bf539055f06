// The loop the connect+close benchmark measures: loopback connections made and closed by
// one process, both ends its own, timed by its CPU time and by the wall clock.
#pragma once

#include "config.hpp"

namespace kashim::testing {

// Connections per second of the process's CPU time (its system calls and the loopback's
// softirq work, done in its context) and of the clock on the wall (which other processes'
// load also moves). Zero when a call failed.
struct Rates {
  double cpu = 0;
  double wall = 0;
};

// What the process does itself, without BPF.
struct OwnCalls {
  const kashim::Config* after = nullptr;  // both ends set these options once connected
  int keepalive_before = -1;  // >= 0: SO_KEEPALIVE to this on the listener (the accepted
                              // connections inherit it) and on each socket before connect
};

// `connections` times: socket, connect, accept, setsockopt(SO_LINGER 0: an abortive close
// leaves no TIME_WAIT, so a run never runs out of ephemeral ports), close both.
Rates measure_connections(int connections, const OwnCalls& own);

}  // namespace kashim::testing
