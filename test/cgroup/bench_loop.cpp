#include "bench_loop.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "decide.hpp"

namespace kashim::testing {

namespace {

double seconds_now(clockid_t clock) {
  timespec now;
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

Rates measure_connections(int connections, const OwnCalls& own) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("cgroup_bench: listen");
    return {};
  }
  const int keepalive = own.keepalive_before;
  if (keepalive >= 0) setsockopt(listener, SOL_SOCKET, SO_KEEPALIVE, &keepalive, sizeof keepalive);
  // An abortive close: no TIME_WAIT, so the run never runs out of ephemeral ports.
  const linger abort_on_close = {1, 0};
  const double start_cpu = seconds_now(CLOCK_THREAD_CPUTIME_ID);
  const double start_wall = seconds_now(CLOCK_MONOTONIC);
  for (int i = 0; i < connections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (keepalive >= 0) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, sizeof keepalive);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      std::perror("cgroup_bench: connect");
      return {};
    }
    if (own.after != nullptr) kashim::apply_keepalive(fd, *own.after, setsockopt);
    const int accepted = accept(listener, nullptr, nullptr);
    if (own.after != nullptr) kashim::apply_keepalive(accepted, *own.after, setsockopt);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close(fd);
    close(accepted);
  }
  const Rates rates = {connections / (seconds_now(CLOCK_THREAD_CPUTIME_ID) - start_cpu),
                       connections / (seconds_now(CLOCK_MONOTONIC) - start_wall)};
  close(listener);
  return rates;
}

}  // namespace kashim::testing
