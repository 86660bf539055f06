#include "kept_across_exec.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kashim::supervise {
namespace {

constexpr int kTimers[] = {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF};
constexpr std::uint64_t kResetOnFork = 0x01;  // SCHED_FLAG_RESET_ON_FORK
constexpr std::uint32_t kDeadline = 6;        // SCHED_DEADLINE
static_assert(sizeof(SchedulingAttributes) == 48, "SCHED_ATTR_SIZE_VER0");

// The real-time timer's remaining time, less what has passed since it was taken (at least
// 1 us, so that one already due fires at once). The CPU-time timers count this process's
// time, which COMMAND's has not spent yet.
itimerval less_time_passed(itimerval timer, const timespec& since) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long passed_us =
      (now.tv_sec - since.tv_sec) * 1000000LL + (now.tv_nsec - since.tv_nsec) / 1000;
  long long left_us = timer.it_value.tv_sec * 1000000LL + timer.it_value.tv_usec - passed_us;
  if (left_us < 1) left_us = 1;
  timer.it_value.tv_sec = static_cast<time_t>(left_us / 1000000);
  timer.it_value.tv_usec = static_cast<suseconds_t>(left_us % 1000000);
  return timer;
}

// The POSIX record locks this process holds on descriptor `fd`: its /proc/self/fdinfo lines
// "lock:\t1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 0 EOF" (the kernel shows the locks of
// this process set through this open file). Others (flock, OFD, leases) go with the
// descriptor.
void add_record_locks(int fd, std::vector<RecordLock>* locks) {
  const std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  FILE* info = std::fopen(path.c_str(), "re");
  if (info == nullptr) return;
  char line[256];
  while (std::fgets(line, sizeof line, info) != nullptr) {
    char kind[16], access[16], end[32];
    long long start = 0;
    if (std::sscanf(line, "lock: %*d: %15s %*s %15s %*d %*s %lld %31s", kind, access, &start,
                    end) != 4 ||
        std::strcmp(kind, "POSIX") != 0) {
      continue;
    }
    RecordLock lock;
    lock.fd = fd;
    lock.type = std::strcmp(access, "WRITE") == 0 ? F_WRLCK : F_RDLCK;
    lock.start = static_cast<off_t>(start);
    lock.length = std::strcmp(end, "EOF") == 0
                      ? 0
                      : static_cast<off_t>(std::strtoll(end, nullptr, 10) - start + 1);
    locks->push_back(lock);
  }
  std::fclose(info);
}

}  // namespace

void take_record_locks(const std::vector<int>& descriptors, KeptAcrossExec* kept) {
  for (int fd : descriptors) add_record_locks(fd, &kept->record_locks);
}

void take_kept_across_exec(KeptAcrossExec* kept) {
  clock_gettime(CLOCK_MONOTONIC, &kept->taken_at);
  for (int i = 0; i < 3; ++i) {
    const itimerval disarmed{};
    // Reads and disarms in one step: the timer cannot fire in between.
    if (setitimer(kTimers[i], &disarmed, &kept->timers[i]) != 0) kept->timers[i] = {};
  }
  int subreaper = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper != 0) {
    kept->child_subreaper = subreaper;
    prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  // The init of a pid namespace (a container's entry point) gets every orphan in it, as
  // COMMAND would have as init: COMMAND is made a subreaper, so that its own come to it.
  if (getpid() == 1) kept->child_subreaper = 1;
  SchedulingAttributes scheduling;
  if (syscall(SYS_sched_getattr, 0, &scheduling, sizeof scheduling, 0) == 0) {
    scheduling.size = sizeof scheduling;
    if ((scheduling.flags & kResetOnFork) != 0) {
      scheduling.flags = kResetOnFork;
      kept->scheduling = scheduling;
    } else if (scheduling.policy == kDeadline) {
      // A deadline task may fork only with SCHED_RESET_ON_FORK: the supervisor takes the
      // flag (COMMAND could not be started otherwise), and COMMAND's process the policy back.
      scheduling.flags = 0;
      kept->scheduling = scheduling;
      SchedulingAttributes resetting = scheduling;
      resetting.flags = kResetOnFork;
      syscall(SYS_sched_setattr, 0, &resetting, 0);
    }
  }
}

void give_kept_across_exec(const KeptAcrossExec& kept) {
  for (int i = 0; i < 3; ++i) {
    const itimerval& timer = kept.timers[i];
    if (timer.it_value.tv_sec == 0 && timer.it_value.tv_usec == 0) continue;  // not running
    const itimerval left =
        kTimers[i] == ITIMER_REAL ? less_time_passed(timer, kept.taken_at) : timer;
    setitimer(kTimers[i], &left, nullptr);
  }
  if (kept.child_subreaper != 0) prctl(PR_SET_CHILD_SUBREAPER, kept.child_subreaper);
  // Allowed where the caller was allowed to set them (the same user, its RLIMIT_RTPRIO and
  // RLIMIT_NICE); otherwise COMMAND runs with what fork left it.
  if (kept.scheduling.size != 0) {
    SchedulingAttributes scheduling = kept.scheduling;
    syscall(SYS_sched_setattr, 0, &scheduling, 0);
  }
  for (const RecordLock& lock : kept.record_locks) {
    struct flock wanted {};
    wanted.l_type = lock.type;
    wanted.l_whence = SEEK_SET;
    wanted.l_start = lock.start;
    wanted.l_len = lock.length;
    // Signals are COMMAND's by now: a fatal one ends the wait as it would end COMMAND.
    while (fcntl(lock.fd, F_SETLKW, &wanted) != 0 && errno == EINTR) {
    }
  }
}

}  // namespace kashim::supervise
