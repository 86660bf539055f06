// What exec keeps of a process but fork does not give its child. Without kashim, COMMAND
// would be exec'd in its caller's process and keep these; under the supervisor it is the
// supervisor's child, so the supervisor takes them from itself before it forks COMMAND, and
// COMMAND's process sets them again just before its exec.
#pragma once

#include <sys/time.h>
#include <time.h>

namespace kashim::supervise {

struct KeptAcrossExec {
  // ITIMER_REAL (alarm()), ITIMER_VIRTUAL and ITIMER_PROF, as the caller left them running:
  // the remaining time and the interval. The supervisor's are disarmed, so that a timer fires
  // once, in COMMAND, which can read and cancel it.
  itimerval timers[3] = {};
  timespec taken_at{};  // CLOCK_MONOTONIC: the real-time timer's time runs on meanwhile
  // PR_SET_CHILD_SUBREAPER: COMMAND's orphaned descendants are reparented to COMMAND (and
  // reaped by it), not to the supervisor, which never waits for them.
  int child_subreaper = 0;
};

// In the supervisor, once, before COMMAND's process is forked: moves those attributes from
// the supervisor into `kept`.
void take_kept_across_exec(KeptAcrossExec* kept);

// In COMMAND's process, just before exec.
void give_kept_across_exec(const KeptAcrossExec& kept);

}  // namespace kashim::supervise
