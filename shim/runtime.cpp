#include "runtime.hpp"

#include <sys/auxv.h>
#include <unistd.h>

#include <new>

#include "copies.hpp"
#include "guards.hpp"
#include "kept_at_start.hpp"
#include "kernel.hpp"
#include "mapped_once.hpp"
#include "process_sources.hpp"

namespace kashim {
namespace {

// Lock-free, so that no hook can ever wait: each thread that finds nothing published yet
// parses into a slot of its own and tries to publish it; the first to succeed wins and
// reports, the others use the winner's. A signal handler that interrupts a parse, or a
// child forked during one, simply takes another slot. A slot whose parse was not published
// (it lost, or the process was short of descriptors or memory) is free again. The slots are
// mapped when the first parse begins, not by the loader at every start (zeroed memory
// beyond the library's data page would cost each process a mapping).
constexpr int kSlots = 4;
std::atomic<Runtime*> g_slots{nullptr};
std::atomic<unsigned> g_slots_in_use{0};  // a bit per slot
static_assert(kSlots <= 32);

// A free slot, now in use; -1 when all are.
int claim_slot() {
  unsigned in_use = g_slots_in_use.load(std::memory_order_relaxed);
  for (;;) {
    int slot = 0;
    while (slot < kSlots && (in_use & (1u << slot)) != 0) ++slot;
    if (slot == kSlots) return -1;
    if (g_slots_in_use.compare_exchange_weak(
            in_use, in_use | (1u << slot), std::memory_order_acquire, std::memory_order_relaxed)) {
      return slot;
    }
  }
}

void release_slot(int slot) {
  g_slots_in_use.fetch_and(~(1u << slot), std::memory_order_release);
}

const Runtime kInert{};  // Config's defaults: inactive

// Apart from announce(), so that the report's 4 KiB of stack are taken only when it is asked
// for: the first hooked call, which announces, may run on a small stack (process_sources.cpp).
[[gnu::noinline]] void write_check_report(const Runtime& runtime) {
  Report report;
  describe_config(runtime.config, process_sources(), &report);
  write_stderr(runtime.stderr_at_start, report.view());
}

void announce(const Runtime& runtime) {
  const Config& config = runtime.config;
  if (config.check) {
    write_check_report(runtime);
  } else if (!config.error.empty() && config.log_level >= LogLevel::kError) {
    write_log_line(config, runtime.stderr_at_start, config.error.view());
  } else if (config.log_level >= LogLevel::kDebug) {
    LogLine line;
    line.add("version " KASHIM_VERSION " started in process ").add(kernel::raw(SYS_getpid));
    line.add(config.active ? ", active" : ", disabled");
    write_log_line(config, runtime.stderr_at_start, line.view());
  }
}

std::atomic<bool> g_apply_failure_reported{false};

StderrIdentity g_stderr_at_start;
std::atomic<bool> g_stderr_noted{false};

}  // namespace

std::atomic<const Runtime*> detail::g_published{nullptr};

const Runtime& detail::initialize() {
  const int slot = claim_slot();
  if (slot < 0) {
    // More first calls under way at once than slots: wait briefly for a winner, else forward.
    for (int attempt = 0; attempt < 1000; ++attempt) {
      if (const Runtime* published = detail::g_published.load(std::memory_order_acquire)) {
        return *published;
      }
      kernel::raw(SYS_sched_yield);
    }
    return kInert;
  }
  ErrnoGuard keep_errno;
  // Signals held: a handler's longjmp would leave the slot claimed. Reading the file or the
  // sysctls opens files.
  OwnWork own_work;
  Runtime* memory = mapped_once(g_slots, kSlots);
  if (memory == nullptr) {  // no memory: forward only, and try again at the next call
    release_slot(slot);
    return kInert;
  }
  Runtime& fresh = *::new (static_cast<void*>(&memory[slot])) Runtime();
  // A setuid or otherwise privileged (AT_SECURE) process is left exactly as it is, with the
  // shim inert and silent: its environment and stderr may belong to an unprivileged user.
  // So is a copy behind another kashim.
  if (getauxval(AT_SECURE) == 0 && !another_kashim_in_front()) {
    // What the process started with (kept_at_start.hpp), else (a hook called from another
    // library's constructor, before ours) the environment as it is.
    const char* const* kept = kept_environment();
    ProcessEnvironment environment =
        kept != nullptr ? ProcessEnvironment::capture(kept) : ProcessEnvironment::capture();
    if (no_config_file_at_start()) environment.note_no_file();
    load_configuration(environment, &fresh.config);
    if (fresh.config.short_of_resources) {  // not the configuration: the next call reads it
      release_slot(slot);
      return kInert;
    }
  }
  // Before the constructor (a hook called from another library's constructor) fd 2 is
  // still what it was at start.
  fresh.stderr_at_start =
      g_stderr_noted.load(std::memory_order_acquire) ? g_stderr_at_start : identify_stderr();
  const Runtime* expected = nullptr;
  if (detail::g_published.compare_exchange_strong(expected, &fresh, std::memory_order_acq_rel,
                                                  std::memory_order_acquire)) {
    announce(fresh);
    return fresh;
  }
  release_slot(slot);  // another parse was published first
  return *expected;
}

void note_stderr_at_start(const StderrIdentity& identity) {
  g_stderr_at_start = identity;
  g_stderr_noted.store(true, std::memory_order_release);
}

void log_line(const Runtime& runtime, const LogLine& line) {
  write_log_line(runtime.config, runtime.stderr_at_start, line.view());
}

void report_apply_failure(const Runtime& runtime, int fd, int error) {
  bool first = !g_apply_failure_reported.exchange(true, std::memory_order_relaxed);
  if (!logging(runtime, first ? LogLevel::kError : LogLevel::kInfo)) return;
  LogLine line;
  line.add("fd ").add(fd).add(": keep-alive options could not be set, ");
  add_errno(&line, error);
  line.add("; the program goes on untuned");
  if (first) line.add(" (further failures are logged at KASHIM_LOG=info)");
  log_line(runtime, line);
}

}  // namespace kashim
