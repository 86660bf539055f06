// An environment, a configuration file, a program's names and the kernel's sysctl values for
// parse_config, held in ordinary containers. Shared by the unit tests and the fuzzer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "config.hpp"
#include "config_file.hpp"
#include "programs.hpp"

namespace kashim::testing {

struct FakeSources {
  std::map<std::string, std::string> environment;
  std::map<std::string, std::int64_t> sysctls = {
      {"tcp_keepalive_time", 7200}, {"tcp_keepalive_intvl", 75}, {"tcp_keepalive_probes", 9}};
  bool sysctl_readable = true;
  // The configuration file's text; nullopt: no file.
  std::optional<std::string> file_text;
  std::string file_path = "/etc/kashim.conf";
  // The program's names; both empty: the scope is not decided (as for a route).
  std::string executable, invoked;

  // Parses the file (when there is one) for the program, as read_config_file() would.
  Sources sources() {
    Sources sources{&FakeSources::lookup, &FakeSources::sysctl, this};
    names_ = {executable, invoked};
    bool named = !executable.empty() || !invoked.empty();
    if (named) sources.program = &names_;
    if (file_text) {
      file_ = ConfigFile();
      file_.path = file_path.c_str();
      file_.present = true;
      parse_config_file(*file_text, named ? &names_ : nullptr, &file_);
      sources.file = &file_;
    }
    return sources;
  }

  // As load_configuration() parses: with the file, every section's values are checked.
  Config parse() {
    Config config;
    if (file_text) {
      parse_config_with_file(*file_text, sources(), &config);
    } else {
      parse_config(sources(), &config);
    }
    return config;
  }

  const ConfigFile& file() const { return file_; }

 private:
  static const char* lookup(const char* name, void* self) {
    auto& environment = static_cast<FakeSources*>(self)->environment;
    auto found = environment.find(name);
    return found == environment.end() ? nullptr : found->second.c_str();
  }
  static bool sysctl(const char* name, std::int64_t* value, void* self) {
    auto* fake = static_cast<FakeSources*>(self);
    auto found = fake->sysctls.find(name);
    if (!fake->sysctl_readable || found == fake->sysctls.end()) return false;
    *value = found->second;
    return true;
  }

  ProgramNames names_;
  ConfigFile file_;
};

}  // namespace kashim::testing
