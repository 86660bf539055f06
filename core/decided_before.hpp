// What was decided for a socket before it came to this process (inherited across exec,
// handed over by systemd or inetd, passed over a Unix socket): the rule every route applies
// to a socket it did not see made.
#pragma once

#include "config.hpp"
#include "decide.hpp"

namespace kashim {

// The options that stay as they are (kAllOptionBits: the whole socket). Keep-alive already
// on means a decision was made where the socket was made (by a kashim with that process's
// configuration, or by its program): it stands, in either mode. In fallback mode an option
// other than the namespace's default counts too, even with keep-alive off; force mode sets
// those. Asks the kernel (getsockopt, and the sysctls in fallback mode).
OptionBits decided_before(const Config& config, int fd);

}  // namespace kashim
