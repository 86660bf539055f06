// `kashim apply`: kashim's configuration, applied to the sockets a running process holds.
#pragma once

#include <cstdio>

#include "config.hpp"
#include "inspection.hpp"

namespace kashim::inspect {

// Exit statuses, shared with `kashim status` (doc/inspect.md).
inline constexpr int kExitOk = 0;          // everything intended was done
inline constexpr int kExitIncomplete = 1;  // some socket could not be read or tuned
inline constexpr int kExitUsage = 2;       // bad arguments or configuration
inline constexpr int kExitNoProcess = 3;   // no such process, it exited, or not permitted

// The worse of two exit statuses.
inline int worse(int a, int b) {
  return a > b ? a : b;
}

// Tunes every socket of `process` the configuration wants changed (or, with `dry_run`,
// says what it would change): each is duplicated again and its inode checked just before
// its options are set, then read back. One line per socket on `out`; a process-level problem
// goes to `err`. Returns kExitOk, kExitIncomplete or kExitNoProcess.
int apply_to_process(const ProcessView& process, const Config& config, bool dry_run, std::FILE* out,
                     std::FILE* err);

}  // namespace kashim::inspect
