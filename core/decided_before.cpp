#include "decided_before.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstdint>
#include <iterator>

#include "process_sources.hpp"
#include "sockets.hpp"

namespace kashim {

OptionBits decided_before(const Config& config, int fd) {
  if (read_int_option(fd, SOL_SOCKET, SO_KEEPALIVE) > 0) return kAllOptionBits;
  if (forcing(config)) return 0;
  struct Default {
    int optname;
    const char* sysctl;  // null: the default is 0
  };
  constexpr Default kDefaults[] = {{TCP_KEEPIDLE, "tcp_keepalive_time"},
                                   {TCP_KEEPINTVL, "tcp_keepalive_intvl"},
                                   {TCP_KEEPCNT, "tcp_keepalive_probes"},
                                   {TCP_USER_TIMEOUT, nullptr}};
  static_assert(std::size(kDefaults) == std::size(kManagedTcpOptions));
  const Sources sources = process_sources();
  for (const Default& option : kDefaults) {
    std::int64_t standard = 0;
    if (option.sysctl != nullptr && !sources.sysctl(option.sysctl, &standard, sources.context)) {
      continue;
    }
    // Someone chose this socket's keep-alive, even if they left it off: all theirs.
    if (read_int_option(fd, IPPROTO_TCP, option.optname) != standard) return kAllOptionBits;
  }
  return 0;
}

}  // namespace kashim
