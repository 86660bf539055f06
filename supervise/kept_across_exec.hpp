// What exec keeps of a process but fork does not give its child. Without kashim, COMMAND
// would be exec'd in its caller's process and keep these; under the supervisor it is the
// supervisor's child, so the supervisor takes them from itself before it forks COMMAND, and
// COMMAND's process sets them again just before its exec.
#pragma once

#include <sys/time.h>
#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <vector>

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

// A POSIX record lock (fcntl F_SETLK, lockf) held on one of the descriptors COMMAND inherits.
struct RecordLock {
  int fd = -1;
  short type = 0;  // F_RDLCK or F_WRLCK
  off_t start = 0;
  off_t length = 0;  // 0: to the end of the file, however long it grows
};

struct KeptAcrossExec {
  // ITIMER_REAL (alarm()), ITIMER_VIRTUAL and ITIMER_PROF, as the caller left them running:
  // the remaining time and the interval. The supervisor's are disarmed, so that a timer fires
  // once, in COMMAND, which can read and cancel it.
  itimerval timers[3] = {};
  timespec taken_at{};  // CLOCK_MONOTONIC: the real-time timer's time runs on meanwhile
  // PR_SET_CHILD_SUBREAPER: COMMAND's orphaned descendants are reparented to COMMAND (and
  // reaped by it), not to the supervisor, which never waits for them. Also set when the
  // supervisor is a pid namespace's init, where COMMAND would have been.
  int child_subreaper = 0;
  // The scheduling policy, priority and nice value, with SCHED_RESET_ON_FORK: fork resets
  // them (a real-time or deadline policy to SCHED_OTHER, a negative nice value to 0) and the
  // flag itself; exec keeps them. Also SCHED_DEADLINE without the flag, under which fork
  // fails. Set again only in those cases (size 0: neither).
  SchedulingAttributes scheduling;
  // POSIX record locks belong to a process (its descriptor table), and fork does not pass
  // them on: COMMAND's process waits for each (F_SETLKW) until the supervisor has closed its
  // copies of COMMAND's descriptors, which releases them, then takes them before its exec.
  // Should another process be waiting for one too, either may get it first; COMMAND then
  // starts once it has it, as the other's holder would have waited for COMMAND's.
  std::vector<RecordLock> record_locks;
};

// In the supervisor, once, before COMMAND's process is forked: moves those attributes from
// the supervisor into `kept`.
void take_kept_across_exec(KeptAcrossExec* kept);

// In the supervisor, before COMMAND's process is forked: the record locks it holds on
// `descriptors` (those COMMAND inherits beyond stdio), which it releases when it closes them.
void take_record_locks(const std::vector<int>& descriptors, KeptAcrossExec* kept);

// In COMMAND's process, just before exec.
void give_kept_across_exec(const KeptAcrossExec& kept);

}  // namespace kashim::supervise
