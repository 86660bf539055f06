// The supervisor while COMMAND runs: answers notifications, forwards signals, follows job
// control, and ends as COMMAND ended.
#pragma once

#include <sys/types.h>

#include "launch.hpp"
#include "target.hpp"
#include "tuner.hpp"

namespace kashim::supervise {

// Runs until COMMAND ends, then reproduces its end: the same exit status, or death by the
// same signal. Never returns. `listener` may be invalid: COMMAND runs untuned, and the
// supervisor only forwards signals and waits. `install_supported`: the kernel can hand the
// program a descriptor while answering (accept.hpp).
[[noreturn]] void supervise_until_exit(pid_t child, UniqueFd listener, bool install_supported,
                                       Tuner& tuner, ProcessState* state);

}  // namespace kashim::supervise
