#include "decided_before.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstdint>

#include "process_sources.hpp"
#include "sockets.hpp"

namespace kashim {

OptionBits decided_before(const Config& config, int fd) {
  if (keepalive_on(fd)) return kAllOptionBits;
  if (forcing(config)) return 0;
  const Sources sources = process_sources();
  for (const ManagedTcpOption& option : kManagedTcpOptions) {
    std::int64_t standard = 0;
    if (option.default_sysctl != nullptr &&
        !sources.sysctl(option.default_sysctl, &standard, sources.context)) {
      continue;
    }
    // Someone chose this socket's keep-alive, even if they left it off: all theirs.
    if (read_int_option(fd, IPPROTO_TCP, option.optname) != standard) return kAllOptionBits;
  }
  return 0;
}

}  // namespace kashim
