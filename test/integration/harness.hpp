// Runs programs as separate processes, with exactly the environment a test gives them,
// and collects what they wrote.
#pragma once

#include <netinet/in.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kashim::testing {

using Environment = std::vector<std::pair<std::string, std::string>>;

struct ProcessRun {
  int exit_code = -1;                         // or 128 + signal
  std::string out;                            // stdout
  std::string err;                            // stderr
  std::map<std::string, std::string> values;  // the probe's key=value results
  std::string value(const std::string& key) const {
    auto found = values.find(key);
    return found == values.end() ? "<missing " + key + ">" : found->second;
  }
};

// True in a sanitizer build (scripts/test --sanitizers).
bool sanitized();
// What LD_PRELOAD must hold to preload `libraries`: in a sanitizer build the sanitizer's
// runtime goes first. run_command applies it to an LD_PRELOAD in the environment; a test
// that hands LD_PRELOAD over some other way (strace -E) calls it itself.
std::string preload_value(const std::string& libraries);

// The environment starts from PATH alone: nothing from the test runner leaks in.
ProcessRun run_command(const std::vector<std::string>& argv, const Environment& environment);

// kashim_probe SCENARIO ARGS, with libkashim.so preloaded unless `preload` is false.
ProcessRun run_probe(const std::vector<std::string>& scenario, Environment environment,
                     bool preload = true);
// The same, started by another program: `launcher` comes first on the command line (as in
// systemd-socket-activate -l ADDRESS ...), and nothing is preloaded unless it arranges it.
ProcessRun run_probe_launched_by(const std::vector<std::string>& launcher,
                                 const std::vector<std::string>& scenario,
                                 const Environment& environment);
// The same with another build of the probe (`probe` is its path).
ProcessRun run_probe_program(const std::vector<std::string>& launcher, const std::string& probe,
                             const std::vector<std::string>& scenario,
                             const Environment& environment);

// A TCP port that nothing uses now.
int free_port();

// A listening TCP socket on 127.0.0.1 and an ephemeral port, made here (without the shim),
// with `type_flags` (SOCK_CLOEXEC, or 0 for one a child inherits); its address in *address.
int loopback_listener(int type_flags, sockaddr_in* address, int backlog = 16);

// The loopback IPv6 address is usable here; when not, a test skips, or fails under CI=true.
bool ipv6_available();
// A prerequisite of a test: skipped without it, or failed under CI=true.
#define KASHIM_REQUIRE(available, what)                             \
  do {                                                              \
    if (!(available)) {                                             \
      if (::kashim::testing::in_ci()) FAIL() << what " is missing"; \
      GTEST_SKIP() << what " is missing";                           \
    }                                                               \
  } while (0)
// A test that cannot mean anything in a sanitizer build, skipped there with the reason.
#define KASHIM_SKIP_WHEN_SANITIZED(why)                                             \
  do {                                                                              \
    if (::kashim::testing::sanitized()) GTEST_SKIP() << "sanitizer build: " << why; \
  } while (0)
#define KASHIM_REQUIRE_IPV6() \
  KASHIM_REQUIRE(::kashim::testing::ipv6_available(), "IPv6 loopback (::1)")
bool in_ci();

std::vector<std::string> lines_of(const std::string& text);
// The key=value lines of `text` (split at the first '=') into run->values.
void take_values(const std::string& text, ProcessRun* run);
// `run` with the key=value lines its program printed on stdout in run.values.
ProcessRun with_values(ProcessRun run);

// A file's whole contents ("" when it cannot be read).
std::string read_file(const std::string& path);
// A path under /tmp, named after the running test, with nothing at it yet.
std::string scratch_path(const std::string& stem);

// `environment` with one more variable.
Environment with(Environment environment, const std::string& name, const std::string& value);

// The settings most tests run with, and what the kernel reports for a socket tuned with them.
extern const Environment kTuned;

// The probe's `scenario` with libkashim_behind.so preloaded (behind the shim when `shim`):
// the IPPROTO_TCP setsockopt calls that interposer was handed, "optname=value" each in order,
// and the run. `environment` may set KASHIM_BEHIND_MAX_IDLE (behind.cpp).
std::pair<std::vector<std::string>, ProcessRun> calls_behind(
    const std::vector<std::string>& scenario, Environment environment, bool shim);
// The probe ran cleanly and said nothing on stdout or stderr.
void expect_clean(const ProcessRun& run);
// The probe's `prefix`keepalive/idle/intvl/cnt/user_timeout values are kTuned's.
void expect_tuned(const ProcessRun& run, const std::string& prefix = "");

}  // namespace kashim::testing
