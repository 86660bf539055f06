// What exec keeps of a process but fork does not give its child. Without kashim, COMMAND
// would be exec'd in its caller's process and keep these; under the supervisor it is the
// supervisor's child, so the supervisor takes them from itself before it forks COMMAND, and
// COMMAND's process sets them again just before its exec.
#pragma once

#include <sys/time.h>
#include <time.h>

#include <cstdint>

namespace kashim::supervise {

// The kernel's struct sched_attr as sched_getattr(2) fills it (SCHED_ATTR_SIZE_VER0: no
// utilization clamps). <linux/sched/types.h> cannot be included beside glibc's <sched.h>.
struct SchedulingAttributes {
  std::uint32_t size = 0;
  std::uint32_t policy = 0;
  std::uint64_t flags = 0;
  std::int32_t nice = 0;
  std::uint32_t priority = 0;
  std::uint64_t runtime = 0, deadline = 0, period = 0;  // SCHED_DEADLINE
};

struct KeptAcrossExec {
  // ITIMER_REAL (alarm()), ITIMER_VIRTUAL and ITIMER_PROF, as the caller left them running:
  // the remaining time and the interval. The supervisor's are disarmed, so that a timer fires
  // once, in COMMAND, which can read and cancel it.
  itimerval timers[3] = {};
  timespec taken_at{};  // CLOCK_MONOTONIC: the real-time timer's time runs on meanwhile
  // PR_SET_CHILD_SUBREAPER: COMMAND's orphaned descendants are reparented to COMMAND (and
  // reaped by it), not to the supervisor, which never waits for them.
  int child_subreaper = 0;
  // The scheduling policy, priority and nice value, with SCHED_RESET_ON_FORK: fork resets
  // them (a real-time or deadline policy to SCHED_OTHER, a negative nice value to 0) and the
  // flag itself; exec keeps them. Set again only when the flag was set (size 0: it was not).
  SchedulingAttributes scheduling;
};

// In the supervisor, once, before COMMAND's process is forked: moves those attributes from
// the supervisor into `kept`.
void take_kept_across_exec(KeptAcrossExec* kept);

// In COMMAND's process, just before exec.
void give_kept_across_exec(const KeptAcrossExec& kept);

}  // namespace kashim::supervise
