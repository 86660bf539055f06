#include "kept_at_start.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>

#include "start_calls.hpp"
#include "start_text.hpp"

extern char** environ;

namespace kashim {
namespace {

// KASHIM_* values are short; past this much the entry is kept by reference (a process title
// written over the environment would then change it: documented).
constexpr std::size_t kCopyBytes = 1024;
constexpr int kMostEntries = 32;

char g_copies[kCopyBytes];
const char* g_entries[kMostEntries + 1];
bool g_kept = false;
bool g_no_file = false;
// In .data, not .rodata: a page of the library nothing else touches at start (its fault
// costs more than the look itself).
char g_default_path[] = "/etc/kashim.conf";

// Whether `entry` is NAME=... (start_text.hpp: no libc, no .rodata).
template <std::size_t N>
[[gnu::always_inline]] inline bool names(const char* entry, const char (&name)[N]) {
  return start::begins_with(entry, name) && entry[N - 1] == '=';
}

// The variables kashim reads (core's ProcessEnvironment::kNames) all begin so.
bool kashim_reads(const char* entry) {
  if (entry[0] == 'K')
    return start::begins_with(entry, "KASHIM_") || start::begins_with(entry, "KEEP");
  return entry[0] == 'L' && start::begins_with(entry, "LISTEN_");
}

// A copy of `entry` in g_copies, or the entry itself when they are full. The empty asm
// statements keep the compiler from turning the loops into calls to libc's strlen and memcpy.
const char* copy_of(const char* entry, std::size_t* used) {
  std::size_t length = 0;
  while (entry[length] != '\0') {
    ++length;
    asm volatile("" ::: "memory");
  }
  if (length + 1 > kCopyBytes - *used) return entry;
  char* copy = g_copies + *used;
  for (std::size_t i = 0; i <= length; ++i) {
    copy[i] = entry[i];
    asm volatile("" ::: "memory");
  }
  *used += length + 1;
  return copy;
}

// Whether `path` is there: 0, or the negative errno. fstatat rather than open: it allocates
// no open file (0.6 us here against 1.1 us for a failed open).
long looked_up(const char* path) {
  struct stat status;
#if defined(__x86_64__) || defined(__aarch64__)
  return start::call(SYS_newfstatat, AT_FDCWD, reinterpret_cast<long>(path),
                     reinterpret_cast<long>(&status), 0);
#else
  return fstatat(AT_FDCWD, path, &status, 0) == 0 ? 0 : -errno;
#endif
}

}  // namespace

AtStart keep_at_start() {
  AtStart needs;
  const char* config_path = nullptr;
  if (environ != nullptr) {
    std::size_t used = 0;
    int count = 0;
    bool seen_check = false;
    for (char** entry = environ; *entry != nullptr && count < kMostEntries; ++entry) {
      if (!kashim_reads(*entry)) continue;
      const char* kept = copy_of(*entry, &used);
      g_entries[count++] = kept;
      // A name's first definition counts, as with getenv().
      if (!seen_check && names(kept, "KASHIM_CHECK")) {
        seen_check = true;
        needs.check = kept[13] == '1' && kept[14] == '\0';
      }
      if (names(kept, "LISTEN_FDS")) needs.listen_fds = true;
      if (config_path == nullptr && names(kept, "KASHIM_CONFIG")) config_path = kept + 14;
    }
    g_entries[count] = nullptr;
    g_kept = true;
  }
  // One look for the file at the default path. None (the common case): the first hooked
  // call opens no file either. One there is read by the first hooked call, as is a file
  // KASHIM_CONFIG names (reading it here would cost every process on a host that has one).
  const bool default_path = config_path == nullptr || config_path[0] == '\0';  // as unset
  if (default_path && looked_up(g_default_path) == -ENOENT) g_no_file = true;
  return needs;
}

const char* const* kept_environment() {
  return g_kept ? g_entries : nullptr;
}

bool no_config_file_at_start() {
  return g_no_file;
}

}  // namespace kashim
