#include "kept_at_start.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

#include "kernel.hpp"
#include "no_libc_idiom.hpp"
#include "process_sources.hpp"

namespace kashim {
namespace {

constexpr int kNames = ProcessEnvironment::kCount;

// The names kashim reads (core's ProcessEnvironment::kNames, one list), each followed by a
// NUL, built at compile time into writable data: the constructor compares against them
// there, on a page the loader has touched already, where .rodata would cost a page fault.
constexpr std::size_t length_of(const char* text) {
  std::size_t length = 0;
  while (text[length] != '\0') ++length;
  return length;
}
constexpr std::size_t names_bytes() {
  std::size_t bytes = 0;
  for (const char* name : ProcessEnvironment::kNames) bytes += length_of(name) + 1;
  return bytes;
}
struct NameTable {
  unsigned short start[kNames];  // where each name begins in text
  char text[names_bytes()];
};
constexpr NameTable joined_names() {
  NameTable table{};
  std::size_t at = 0;
  for (int index = 0; index < kNames; ++index) {
    table.start[index] = static_cast<unsigned short>(at);
    const char* name = ProcessEnvironment::kNames[index];
    for (std::size_t i = 0; name[i] != '\0'; ++i) table.text[at++] = name[i];
    table.text[at++] = '\0';
  }
  return table;
}
NameTable g_names = joined_names();  // constant-initialized: no code runs for it

// The values are short: 1 KiB holds every variable kashim reads at ordinary lengths. An
// entry that no longer fits is kept by reference (a process title written over the
// environment would then change it: doc/robustness.md).
constexpr std::size_t kCopyBytes = 1024;
char g_copies[kCopyBytes];
const char* g_entries[kNames + 1];  // "NAME=value", the first definition of each name
bool g_no_file = false;
std::atomic<bool> g_kept{false};  // published after g_entries and g_no_file
// core's kDefaultConfigPath, in .data too.
struct DefaultPath {
  char text[kDefaultConfigPath.size() + 1];
};
constexpr DefaultPath default_path() {
  DefaultPath path{};
  for (std::size_t i = 0; i < kDefaultConfigPath.size(); ++i) path.text[i] = kDefaultConfigPath[i];
  return path;
}
DefaultPath g_default_path = default_path();

// The index of the name `entry` (NAME=value) defines among g_names, or -1.
int name_index(const char* entry) {
  for (int index = 0; index < kNames; ++index) {
    const char* name = g_names.text + g_names.start[index];
    std::size_t i = 0;
    while (name[i] != '\0' && entry[i] == name[i]) {
      ++i;
      KASHIM_NO_LIBC_IDIOM;
    }
    if (name[i] == '\0' && entry[i] == '=') return index;
  }
  return -1;
}

// A copy of `entry` in g_copies, or the entry itself when they are full.
const char* copy_of(const char* entry, std::size_t* used) {
  std::size_t length = 0;
  while (entry[length] != '\0') {
    ++length;
    KASHIM_NO_LIBC_IDIOM;
  }
  if (length + 1 > kCopyBytes - *used) return entry;
  char* copy = g_copies + *used;
  for (std::size_t i = 0; i <= length; ++i) {
    copy[i] = entry[i];
    KASHIM_NO_LIBC_IDIOM;
  }
  *used += length + 1;
  return copy;
}

const char* value_of(const char* entry) {
  while (*entry != '=') ++entry;
  return entry + 1;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// `value` is `expected` between blanks, as the parser trims it.
bool is_word(const char* value, char expected) {
  while (is_blank(*value)) ++value;
  if (*value++ != expected) return false;
  while (is_blank(*value)) ++value;
  return *value == '\0';
}

// A positive decimal number and nothing else (as systemd writes it), or -1.
long positive_number(const char* value) {
  long number = 0;
  int digits = 0;
  for (; *value >= '0' && *value <= '9' && digits < 18; ++value, ++digits) {
    number = number * 10 + (*value - '0');
  }
  return digits > 0 && *value == '\0' && number > 0 ? number : -1;
}

constexpr int index_of(const char* name) {
  for (int i = 0; i < kNames; ++i) {
    if (length_of(name) == length_of(ProcessEnvironment::kNames[i])) {
      bool same = true;
      for (std::size_t c = 0; name[c] != '\0'; ++c) {
        same = same && name[c] == ProcessEnvironment::kNames[i][c];
      }
      if (same) return i;
    }
  }
  return -1;
}
constexpr int kCheck = index_of("KASHIM_CHECK");
constexpr int kConfig = index_of("KASHIM_CONFIG");
constexpr int kListenFds = index_of("LISTEN_FDS");
constexpr int kListenPid = index_of("LISTEN_PID");
static_assert(kCheck >= 0 && kConfig >= 0 && kListenFds >= 0 && kListenPid >= 0);

// Whether `path` is there: 0, or the negative errno. fstatat rather than open: it allocates
// no open file (0.6 us here against 1.1 us for a failed open).
long looked_up(const char* path) {
  struct stat status;
#if defined(__x86_64__) || defined(__aarch64__)
  return kernel::raw(SYS_newfstatat, AT_FDCWD, reinterpret_cast<long>(path),
                     reinterpret_cast<long>(&status), 0);
#else
  return fstatat(AT_FDCWD, path, &status, 0) == 0 ? 0 : -errno;
#endif
}

}  // namespace

AtStart keep_at_start(char** environment) {
  AtStart needs;
  const char* values[kNames] = {};
  if (environment != nullptr) {
    std::size_t used = 0;
    int count = 0;
    for (char** entry = environment; *entry != nullptr; ++entry) {
      const char* text = *entry;
      if (text[0] != 'K' && text[0] != 'L') continue;  // every name kashim reads
      const int index = name_index(text);
      if (index < 0 || values[index] != nullptr) continue;  // the first definition wins
      const char* kept = copy_of(text, &used);
      g_entries[count++] = kept;
      values[index] = value_of(kept);
    }
    g_entries[count] = nullptr;
  }
  needs.check = values[kCheck] != nullptr && is_word(values[kCheck], '1');
  // systemd's sockets, when they are this process's: a child of a socket-activated service
  // inherits the variables with its parent's LISTEN_PID.
  if (values[kListenFds] != nullptr && values[kListenPid] != nullptr &&
      positive_number(values[kListenPid]) == kernel::raw(SYS_getpid, 0, 0)) {
    const long count = positive_number(values[kListenFds]);
    needs.listen_fds = count > 0 ? count : 0;
  }
  // One look for the file at the default path. None (the common case): the first hooked
  // call opens no file either. One there is read by the first hooked call, as is a file
  // KASHIM_CONFIG names (reading it here would cost every process on a host that has one).
  const char* config_path = values[kConfig];
  const bool default_path = config_path == nullptr || config_path[0] == '\0';  // as unset
  if (default_path && looked_up(g_default_path.text) == -ENOENT) g_no_file = true;
  g_kept.store(true, std::memory_order_release);
  return needs;
}

const char* const* kept_environment() {
  return g_kept.load(std::memory_order_acquire) ? g_entries : nullptr;
}

bool no_config_file_at_start() {
  return g_kept.load(std::memory_order_acquire) && g_no_file;
}

}  // namespace kashim
