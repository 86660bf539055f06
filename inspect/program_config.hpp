// The configuration for the program a process runs, decided as the library decides it inside
// that program and the supervisor for its command (load_configuration_for): KASHIM_PROGRAMS
// (or `programs =`) scopes it by the program's names, and the configuration file's
// [program ...] section for those names overrides the global part key by key.
//
// The names come from outside (proc_fds.hpp): the base names of the path exec() was given
// (AT_EXECFN, read from the process, as the library takes it inside) and of argv[0].
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "config.hpp"

namespace kashim::inspect {

class ProgramConfigurations {
 public:
  // Parsed once per pair of names; lives as long as this object.
  const Config& for_program(const std::string& executable, const std::string& invoked);

 private:
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Config>> parsed_;
};

}  // namespace kashim::inspect
