// What a program observes under the shim beyond its keep-alive options, compared with the
// same run without it: signals raised by the shim's own log writes.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

// A log line the kernel answers with a signal (a pipe without a reader: SIGPIPE; a file at
// RLIMIT_FSIZE: SIGXFSZ; the terminal of a background job with tostop: SIGTTOU) must be
// dropped as a full pipe's is: the program's one socket() must not kill or stop it. At
// debug the first hooked call writes a line; a bad value writes one at every level but off.
TEST(LogSignals, TheShimsOwnWriteNeverKillsOrStopsTheProgram) {
  for (const Environment& environment :
       {Environment{{"KASHIM_LOG", "debug"}}, Environment{{"KASHIM_IDLE", "soon"}}}) {
    ProcessRun without = run_probe({"log-signals"}, environment, /*preload=*/false);
    ProcessRun with_shim = run_probe({"log-signals"}, environment);
    ASSERT_EQ(without.exit_code, 0) << without.err;
    ASSERT_EQ(with_shim.exit_code, 0) << with_shim.err;
    for (const char* destination : {"pipe", "fsize", "tostop"}) {
      EXPECT_EQ(without.value(destination), "exit:0") << "the premise: " << destination;
      EXPECT_EQ(with_shim.value(destination), without.value(destination))
          << destination << " with " << environment.front().first << "="
          << environment.front().second;
    }
  }
}

}  // namespace
}  // namespace kashim::testing
