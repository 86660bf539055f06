#include "program_of_process.hpp"

#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/uio.h>
#include <unistd.h>

#include <memory>
#include <string_view>

#include "process_sources.hpp"
#include "programs.hpp"
#include "unique_fd.hpp"

namespace kashim {
namespace {

// A file of /proc, opened for reading.
UniqueFd open_for_reading(const std::string& path) {
  return UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

// `size` bytes at `address` in process `pid`'s memory; how many could be read (a read that
// reaches past the end of a mapping stops there).
ssize_t read_remote(pid_t pid, unsigned long address, void* into, std::size_t size) {
  iovec local{into, size};
  iovec remote{reinterpret_cast<void*>(address), size};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

// The path exec was given, at AT_EXECFN in the process's memory (process_vm_readv: a third
// of what opening /proc/PID/mem costs). "" when it cannot be read (the string was written
// over, or the process is out of reach).
std::string exec_path(pid_t pid, unsigned long address) {
  if (address == 0) return "";
  char path[4096];  // near the top of the stack: a read past its end stops there
  const ssize_t length = read_remote(pid, address, path, sizeof path);
  if (length <= 0) return "";
  const std::string_view text(path, static_cast<std::size_t>(length));
  const std::size_t end = text.find('\0');
  return end == std::string_view::npos ? "" : std::string(text.substr(0, end));
}

// The file the process runs, links resolved; "" when it cannot be read.
std::string running_file(const std::string& proc_dir) {
  char target[4096];
  const ssize_t length = readlink((proc_dir + "/exe").c_str(), target, sizeof target);
  if (length <= 0) return "";
  std::string_view path(target, static_cast<std::size_t>(length));
  constexpr std::string_view kDeleted = " (deleted)";  // the file was replaced or removed
  if (path.ends_with(kDeleted)) path.remove_suffix(kDeleted.size());
  return std::string(path);
}

// argv[0], up to its NUL.
std::string first_argument(const std::string& proc_dir) {
  char text[4096];
  ssize_t got = -1;
  if (UniqueFd cmdline = open_for_reading(proc_dir + "/cmdline"); cmdline) {
    got = read(cmdline.get(), text, sizeof text - 1);
  }
  if (got <= 0) return "";
  text[got] = '\0';
  return text;
}

}  // namespace

ExecImage exec_image_of(pid_t pid) {
  ExecImage image;
  unsigned long entries[512];
  ssize_t got = -1;
  if (UniqueFd auxv = open_for_reading("/proc/" + std::to_string(pid) + "/auxv"); auxv) {
    got = read(auxv.get(), entries, sizeof entries);
  }
  unsigned long random = 0;
  for (ssize_t i = 0; i + 1 < got / static_cast<ssize_t>(sizeof entries[0]); i += 2) {
    if (entries[i] == AT_RANDOM) random = entries[i + 1];
    if (entries[i] == AT_EXECFN) image.execfn = entries[i + 1];
  }
  image.known = random != 0 && read_remote(pid, random, image.random.data(), image.random.size()) ==
                                   static_cast<ssize_t>(image.random.size());
  return image;
}

ProcessProgram program_of_process(pid_t pid, const ExecImage& image) {
  const std::string proc_dir = "/proc/" + std::to_string(pid);
  std::string path = exec_path(pid, image.execfn);
  if (path.empty()) path = running_file(proc_dir);
  return {std::string(base_name(path)), std::string(base_name(first_argument(proc_dir)))};
}

ProcessProgram program_of_process(pid_t pid) {
  return program_of_process(pid, exec_image_of(pid));
}

bool some_program_configuration(bool (*wanted)(const Config&)) {
  const ProcessEnvironment environment = ProcessEnvironment::capture();
  auto text = std::make_unique<ConfigText>();  // 8 KiB and more: not on the stack
  auto file = std::make_unique<ConfigFile>();
  auto config = std::make_unique<Config>();
  read_config_file(environment.get("KASHIM_CONFIG"), nullptr, text.get(), file.get());
  Sources sources = environment.sources();
  sources.file = file.get();
  parse_config(sources, config.get());
  if (wanted(*config)) return true;
  const int sections = file->error.empty() ? file->sections : 0;
  const std::string_view whole(text->text, text->length);
  auto room = std::make_unique<ConfigFile>();
  for (int section = 1; section <= sections; ++section) {
    parse_config_with_section(whole, file->path, section, sources, room.get(), config.get());
    if (wanted(*config)) return true;
  }
  return false;
}

const Config& ProgramConfigurations::for_program(const std::string& executable,
                                                 const std::string& invoked) {
  auto found = parsed_.find({executable, invoked});
  if (found != parsed_.end()) return *found->second;
  if (keep_at_most_ != 0 && parsed_.size() >= keep_at_most_) parsed_.clear();
  auto config = std::make_unique<Config>();  // several KiB: not on the stack
  load_configuration_for(ProgramNames{executable, invoked}, config.get());
  return *parsed_.emplace(std::make_pair(executable, invoked), std::move(config)).first->second;
}

}  // namespace kashim
