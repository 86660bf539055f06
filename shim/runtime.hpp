// The configuration at run time: parsed on first use (the first hooked call, or the
// constructor when something must happen at start), published once, then read by every
// thread without locks. A copy of libkashim.so behind another one publishes an inert
// configuration (copies.hpp).
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

// The runtime if the configuration has been read already, else nullptr (reading it is not
// started: it takes stack and files).
inline const Runtime* runtime_if_read() {
  return detail::g_published.load(std::memory_order_acquire);
}

// Reports the configuration error, or the --check report, exactly once.
inline const Runtime& runtime() {
  const Runtime* published = runtime_if_read();
  return published != nullptr ? *published : detail::initialize();
}

// From the constructor: what fd 2 is at start. Log lines go to stderr only while it is
// still that file (a program may close stderr and get a socket under number 2).
void note_stderr_at_start(const StderrIdentity& identity);

inline bool logging(const Runtime& runtime, LogLevel level) {
  return runtime.config.log_level >= level;
}
void log_line(const Runtime& runtime, const LogLine& line);
// The first socket the shim cannot tune is an error worth seeing once; the rest (a seccomp
// filter would refuse every one) only at info.
void report_apply_failure(const Runtime& runtime, int fd, int error);

}  // namespace kashim
