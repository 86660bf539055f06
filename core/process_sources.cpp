#include "process_sources.hpp"

#include <errno.h>  // program_invocation_name
#include <fcntl.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <new>

#include "in_place.hpp"
#include "kernel.hpp"
#include "text.hpp"

namespace kashim {
namespace {

// secure_getenv as defence in depth: the preload library does not parse at all in a
// privileged (AT_SECURE) process.
const char* process_getenv(const char* name, void*) {
  return secure_getenv(name);
}

const char* captured_getenv(const char* name, void* environment) {
  return static_cast<const ProcessEnvironment*>(environment)->get(name);
}

// A sysctl could not be opened for want of a descriptor or memory since the flag was last
// cleared: the parse that needed it is not the configuration (Config::short_of_resources).
std::atomic<bool> g_sysctl_short{false};

bool process_sysctl(const char* name, std::int64_t* value, void*) {
  FixedText<96> path;
  path.add("/proc/sys/net/ipv4/").add(name);
  int fd = kernel::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
      g_sysctl_short.store(true, std::memory_order_relaxed);
    }
    return false;
  }
  char text[32];
  ssize_t length = kernel::read(fd, text, sizeof text);
  kernel::close(fd);
  if (length <= 0) return false;
  const char* end = text + length;
  return std::from_chars(text, end, *value).ec == std::errc();
}

// The file's text and what it sets, for one parse: 9 KiB, so not on the stack. The library
// parses at a program's first hooked call, which may run on a thread's small stack or in a
// signal handler on an alternate stack (socket, connect and setsockopt are
// async-signal-safe): kashim must not need more of either than the program's own call does.
// Where no memory can be mapped the parse is left for later (Config::short_of_resources).
struct FileScratch {
  ConfigText text;
  ConfigFile file;
  ConfigFile section;  // for checking its [program ...] sections
};

// No memory to read the file into: said as for a file that cannot be read (the preload
// library says nothing and parses again at its next call; the other routes report it).
void parse_without_memory_for_file(const char* configured, Config* config) {
  reset_in_place(config);
  config->short_of_resources = true;
  config->error.add(configured != nullptr && configured[0] != '\0' ? configured
                                                                   : kDefaultConfigPath.data());
  config->error.add(
      ": cannot be read (no memory to read it into); keep-alive settings not "
      "applied");
}

void parse_with_file_once(const ProcessEnvironment& environment, const ProgramNames& program,
                          Config* config) {
  Sources sources = environment.sources();
  sources.program = &program;
  if (environment.no_file()) {
    parse_config_with_file({}, sources, config);
    return;
  }
  const char* configured = environment.get("KASHIM_CONFIG");
  void* mapped = kernel::map_anonymous(sizeof(FileScratch));
  if (mapped == nullptr) {
    parse_without_memory_for_file(configured, config);
    return;
  }
  auto* scratch = ::new (mapped) FileScratch();
  read_config_file(configured, &program, &scratch->text, &scratch->file);
  sources.file = &scratch->file;
  parse_config_with_file(std::string_view(scratch->text.text, scratch->text.length), sources,
                         config, &scratch->section);
  config->short_of_resources = scratch->file.short_of_resources;
  scratch->~FileScratch();
  kernel::unmap(mapped, sizeof(FileScratch));
}

void parse_with_file(const ProcessEnvironment& environment, const ProgramNames& program,
                     Config* config) {
  g_sysctl_short.store(false, std::memory_order_relaxed);
  parse_with_file_once(environment, program, config);
  if (g_sysctl_short.load(std::memory_order_relaxed)) config->short_of_resources = true;
}

}  // namespace

ProcessEnvironment ProcessEnvironment::capture() {
  return capture(environ);
}

ProcessEnvironment ProcessEnvironment::capture(const char* const* entries) {
  ProcessEnvironment environment;
  environment.secure_ = getauxval(AT_SECURE) != 0;
  if (environment.secure_ || entries == nullptr) return environment;
  for (const char* const* entry = entries; *entry != nullptr; ++entry) {
    const char* text = *entry;
    if (text[0] != 'K' && text[0] != 'L') continue;  // every name kashim reads
    const char* equals = std::strchr(text, '=');
    if (equals == nullptr) continue;
    auto length = static_cast<std::size_t>(equals - text);
    for (int i = 0; i < kCount; ++i) {
      // The first definition wins, as with getenv().
      if (environment.values_[i] == nullptr && std::strlen(kNames[i]) == length &&
          std::memcmp(kNames[i], text, length) == 0) {
        environment.values_[i] = equals + 1;
        break;
      }
    }
  }
  return environment;
}

const char* ProcessEnvironment::get(const char* name) const {
  for (int i = 0; i < kCount; ++i) {
    if (std::strcmp(kNames[i], name) == 0) return values_[i];
  }
  return secure_ ? nullptr : secure_getenv(name);
}

Sources ProcessEnvironment::sources() const {
  return {captured_getenv, process_sysctl, const_cast<ProcessEnvironment*>(this)};
}

ProgramNames this_program() {
  auto executable = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
  const char* invoked = program_invocation_name;
  return {base_name(executable != nullptr ? executable : ""),
          base_name(invoked != nullptr ? invoked : "")};
}

void load_configuration(const ProcessEnvironment& environment, Config* config) {
  ProgramNames program = this_program();
  // The report for another program: the wrapper's --check runs `true` to load the library.
  const char* check = environment.get("KASHIM_CHECK");
  const char* named = environment.get("KASHIM_CHECK_PROGRAM");
  if (check != nullptr && std::strcmp(check, "1") == 0 && named != nullptr && named[0] != '\0') {
    program = {named, named};
  }
  parse_with_file(environment, program, config);
}

void load_configuration(Config* config) {
  load_configuration(ProcessEnvironment::capture(), config);
}

void load_configuration_for(const ProgramNames& program, Config* config) {
  parse_with_file(ProcessEnvironment::capture(), program, config);
}

namespace {

// The file for process_sources(): read once, by the first parse that needs it; a caller
// that comes while another reads (only possible in a multi-threaded route) goes without
// the file rather than wait.
// Its memory is mapped then, not kept in the library's zeroed data: that would have the
// loader map it in every process that loads libkashim.so, most of which never read it.
const ConfigFile* read_file_once() {
  struct Storage {
    ConfigText text;
    ConfigFile file;
  };
  static std::atomic<Storage*> storage{nullptr};
  static std::atomic<int> state{0};  // 0 unread, 1 being read, 2 read
  int expected = 0;
  if (state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    void* mapped = kernel::map_anonymous(sizeof(Storage));
    Storage* fresh = mapped == nullptr ? nullptr : ::new (mapped) Storage();
    if (fresh != nullptr) {
      read_config_file(secure_getenv("KASHIM_CONFIG"), nullptr, &fresh->text, &fresh->file);
    }
    storage.store(fresh, std::memory_order_release);
    state.store(2, std::memory_order_release);
    return fresh != nullptr ? &fresh->file : nullptr;
  }
  if (expected != 2) return nullptr;
  Storage* read = storage.load(std::memory_order_acquire);
  return read != nullptr ? &read->file : nullptr;
}

}  // namespace

Sources process_sources() {
  Sources sources{process_getenv, process_sysctl, nullptr};
  sources.read_file = read_file_once;
  return sources;
}

}  // namespace kashim
