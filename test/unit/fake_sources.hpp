// An environment and a set of kernel sysctl values for parse_config, held in maps.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "config.hpp"

namespace kashim::testing {

struct FakeSources {
  std::map<std::string, std::string> environment;
  std::map<std::string, std::int64_t> sysctls = {
      {"tcp_keepalive_time", 7200}, {"tcp_keepalive_intvl", 75}, {"tcp_keepalive_probes", 9}};

  Sources sources() { return {&FakeSources::lookup, &FakeSources::sysctl, this}; }

  Config parse() {
    Config config;
    parse_config(sources(), &config);
    return config;
  }

 private:
  static const char* lookup(const char* name, void* self) {
    auto& environment = static_cast<FakeSources*>(self)->environment;
    auto found = environment.find(name);
    return found == environment.end() ? nullptr : found->second.c_str();
  }
  static bool sysctl(const char* name, std::int64_t* value, void* self) {
    auto& sysctls = static_cast<FakeSources*>(self)->sysctls;
    auto found = sysctls.find(name);
    if (found == sysctls.end()) return false;
    *value = found->second;
    return true;
  }
};

}  // namespace kashim::testing
