// The keep-alive settings the kernel holds for a socket, read back with getsockopt from a
// duplicate: what the connection really does, whoever set it.
#pragma once

#include "sock_diag.hpp"

namespace kashim::inspect {

struct KeepaliveValues {
  bool read = false;  // false: not read (no duplicate); the fields below mean nothing
  bool keepalive = false;
  int idle_s = 0;
  int intvl_s = 0;
  int cnt = 0;
  int user_timeout_ms = 0;
  // Keep-alive on, or an option other than the network namespace's default (this process's
  // sysctls): someone chose this socket's keep-alive, which fallback mode leaves alone, as
  // every route decides for a socket it did not see made (core/decided_before.hpp).
  bool chosen_before = false;
};

// All five options; `read` is false when any of them cannot be read.
KeepaliveValues read_keepalive_values(int fd);

// For a socket sock_diag did not list (one in another network namespace, or not yet bound
// nor connected): whether it is TCP, and if so its family, state and addresses from the
// descriptor itself. The timer stays unknown (0).
bool describe_from_descriptor(int fd, DiagSocket* socket);

}  // namespace kashim::inspect
