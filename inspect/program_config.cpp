#include "program_config.hpp"

#include "process_sources.hpp"
#include "programs.hpp"

namespace kashim::inspect {

const Config& ProgramConfigurations::for_program(const std::string& executable,
                                                 const std::string& invoked) {
  std::unique_ptr<Config>& config = parsed_[{executable, invoked}];
  if (config == nullptr) {
    config = std::make_unique<Config>();  // several KiB: not on the stack
    load_configuration_for(ProgramNames{executable, invoked}, config.get());
  }
  return *config;
}

}  // namespace kashim::inspect
