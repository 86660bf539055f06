// What exec keeps of a process and fork does not give its child: the interval timers its
// caller left running (alarm()) and its child-subreaper flag. Without kashim COMMAND, exec'd
// in its caller's process, has them; under the supervisor, which forks COMMAND, too.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

constexpr long kRealMs = 3000;     // ITIMER_REAL as the caller sets it (the probe cancels it)
constexpr long kCpuMs = 60000;     // ITIMER_VIRTUAL and ITIMER_PROF: never reached here
constexpr long kIntervalMs = 500;  // ITIMER_REAL's interval

// The probe's kept-across-exec scenario, exec'd by a process that first sets the timers and
// the flag, under the supervisor when `supervised`.
ProcessRun run_after_setting(bool supervised, const std::string& argument) {
  const std::string results = scratch_path("kept");
  const pid_t pid = fork();
  if (pid == 0) {
    const itimerval real{{0, kIntervalMs * 1000}, {kRealMs / 1000, 0}};
    const itimerval cpu{{0, 0}, {kCpuMs / 1000, 0}};
    if (setitimer(ITIMER_REAL, &real, nullptr) != 0 ||
        setitimer(ITIMER_VIRTUAL, &cpu, nullptr) != 0 ||
        setitimer(ITIMER_PROF, &cpu, nullptr) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
      _exit(126);
    }
    setenv("KASHIM_IDLE", "31", 1);
    if (supervised) {
      execl(supervisor_path().c_str(), "kashim-supervise", "--", SUPERVISE_PROBE_PATH,
            results.c_str(), "kept-across-exec", argument.c_str(), static_cast<char*>(nullptr));
    } else {
      execl(SUPERVISE_PROBE_PATH, SUPERVISE_PROBE_PATH, results.c_str(), "kept-across-exec",
            argument.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  ProcessRun run;
  int status = 0;
  if (waitpid(pid, &status, 0) == pid) {
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  take_values(read_file(results), &run);
  std::filesystem::remove(results);
  return run;
}

long number(const ProcessRun& run, const std::string& key) {
  const std::string text = run.value(key);
  return text.starts_with("<missing") ? -1 : std::stol(text);
}

TEST(SuperviseKeptAcrossExec, TheCallersTimersAndSubreaperFlagAreThePrograms) {
  const ProcessRun plain = run_after_setting(false, "-");
  const ProcessRun supervised = run_after_setting(true, "-");
  ASSERT_EQ(plain.exit_code, 0);
  ASSERT_EQ(supervised.exit_code, 0);
  for (const ProcessRun* run : {&plain, &supervised}) {
    const char* which = run == &plain ? "without kashim" : "under the supervisor";
    // Less than set by the time the start took; the machine may be loaded, but not for 2 s.
    EXPECT_GT(number(*run, "real_ms"), kRealMs - 2000) << which;
    EXPECT_LE(number(*run, "real_ms"), kRealMs) << which;
    EXPECT_EQ(number(*run, "real_interval_ms"), kIntervalMs) << which;
    EXPECT_GT(number(*run, "virtual_ms"), kCpuMs - 2000) << which;
    EXPECT_GT(number(*run, "prof_ms"), kCpuMs - 2000) << which;
    EXPECT_EQ(number(*run, "subreaper"), 1) << which;
  }
}

// The supervisor gives its timer away rather than copying it: once COMMAND has cancelled
// it, no SIGALRM comes (a copy left running in the supervisor would fire, and be forwarded).
TEST(SuperviseKeptAcrossExec, ATimerTheProgramCancelsNeverFires) {
  const ProcessRun supervised = run_after_setting(true, "wait");
  ASSERT_EQ(supervised.exit_code, 0);
  EXPECT_GT(number(supervised, "real_ms"), 0);
  EXPECT_EQ(number(supervised, "alarm_after_cancel"), 0);
}

}  // namespace
}  // namespace kashim::testing
