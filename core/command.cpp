#include "command.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>

extern char** environ;

namespace kashim {

std::string resolve_command(const std::string& command) {
  if (command.find('/') != std::string::npos) return command;
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (;;) {
    const std::size_t colon = rest.find(':');
    std::string directory(rest.substr(0, colon));
    std::string candidate = (directory.empty() ? "." : directory) + "/" + command;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return command;
    rest.remove_prefix(colon + 1);
  }
}

std::vector<std::string> command_environment(bool drop_kashim_env,
                                             const std::vector<std::string>& setenv,
                                             const std::vector<std::string>& unsetenv) {
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  std::set<std::string_view> replaced(unsetenv.begin(), unsetenv.end());
  for (const std::string& entry : setenv) replaced.insert(name_of(entry));
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (drop_kashim_env && std::strncmp(*entry, "KASHIM_", 7) == 0) continue;
    if (replaced.count(name_of(*entry)) != 0) continue;
    environment.emplace_back(*entry);
  }
  environment.insert(environment.end(), setenv.begin(), setenv.end());
  return environment;
}

std::vector<int> descriptors_from_caller() {
  std::vector<int> descriptors;
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return descriptors;
  while (const dirent* entry = readdir(directory)) {
    const int fd = std::atoi(entry->d_name);
    if (fd > STDERR_FILENO && fd != dirfd(directory)) descriptors.push_back(fd);
  }
  closedir(directory);
  return descriptors;
}

sigset_t signals_to_pass_on() {
  sigset_t set;
  sigfillset(&set);
  for (int signal : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) {
    sigdelset(&set, signal);
  }
  return set;
}

void exec_with_environment(const std::vector<std::string>& argv,
                           const std::vector<std::string>& environment) {
  std::vector<char*> words, entries;
  for (const std::string& word : argv) words.push_back(const_cast<char*>(word.c_str()));
  words.push_back(nullptr);
  for (const std::string& entry : environment) entries.push_back(const_cast<char*>(entry.c_str()));
  entries.push_back(nullptr);
  execvpe(words[0], words.data(), entries.data());
}

}  // namespace kashim
