// What the supervisor's tests share: where the programs are, running the probe under
// kashim-supervise (or without it, to compare), reading the supervisor's notification
// counts, and starting a supervised program in the background to signal it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace kashim::testing {

std::string supervisor_path();                      // ${build}/kashim-supervise
std::string program_path(const std::string& name);  // ${build}/test/programs/NAME
bool go_programs_built();
#define KASHIM_REQUIRE_GO() \
  KASHIM_REQUIRE(::kashim::testing::go_programs_built(), "go (Debian: golang-go)")

// supervise_probe RESULTS SCENARIO..., under kashim-supervise when `supervised`.
ProcessRun run_supervised_probe(const std::vector<std::string>& scenario,
                                const Environment& environment, bool supervised = true);

// The counts kashim-supervise prints at KASHIM_LOG=debug when COMMAND ends:
// "connect", "listen", "accept", "fastopen", "setsockopt", "other", "total"; -1 when absent.
long notification_count(const ProcessRun& run, const std::string& kind);

// A program started in the background with its stdout and stderr in pipes.
struct Background {
  pid_t pid = -1;
  int out = -1;  // read end of its stdout
  int err = -1;
  // Reads stdout until `text` has appeared (bounded by 30 s); what was read.
  std::string wait_for_output(const std::string& text);
  // The same for stderr, which is kept in `err_text`; true once `text` is in it.
  bool wait_for_error_output(const std::string& text);
  // Waits (bounded by 30 s) and returns the raw wait status; stderr collected into `err_text`.
  int wait_status();
  std::string err_text;
  ~Background();
};
Background start_background(const std::vector<std::string>& argv, const Environment& environment);

// True when the process is gone (or a zombie) within 10 s.
bool process_ends(pid_t pid);

}  // namespace kashim::testing
