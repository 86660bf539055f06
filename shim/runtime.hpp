// The configuration at run time: parsed on first use (the constructor, or a hook that ran
// before it), published once, then read by every thread without locks.
#pragma once

#include <atomic>

#include "config.hpp"
#include "log.hpp"
#include "log_line.hpp"

namespace kashim {

struct Runtime {
  Config config;
  StderrIdentity stderr_at_start;
};

// The rare paths stay out of line, so that the common one needs no registers saved.
#define KASHIM_COLD __attribute__((noinline, cold))
namespace detail {
extern std::atomic<const Runtime*> g_published;
KASHIM_COLD const Runtime& initialize();
}  // namespace detail

// Reports the configuration error, or the --check report, exactly once.
inline const Runtime& runtime() {
  const Runtime* published = detail::g_published.load(std::memory_order_acquire);
  return published != nullptr ? *published : detail::initialize();
}

// From here on the shim only forwards: another copy of kashim in front of this one already
// does the work (see copies.hpp).
void retire();

inline bool logging(const Runtime& runtime, LogLevel level) {
  return runtime.config.log_level >= level;
}
void log_line(const Runtime& runtime, const LogLine& line);
// The first socket the shim cannot tune is an error worth seeing once; the rest (a seccomp
// filter would refuse every one) only at info.
void report_apply_failure(const Runtime& runtime, int fd, int error);

}  // namespace kashim
