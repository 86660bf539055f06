// libFuzzer target for the whole configuration parser: every variable, the peer patterns,
// the --check report and the peer matcher. The input is an environment, one NAME=VALUE per
// line; the seeds and the dictionary name the variables. Checks, beyond "no crash and no
// undefined behaviour" (ASan, UBSan): the parse is deterministic; the shim is active, or
// disabled, or has exactly one error line; every parsed pattern, written out as --check
// shows it, parses back to the same pattern.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "config.hpp"
#include "peers.hpp"

namespace {

struct FuzzSources {
  std::map<std::string, std::string> environment;
  bool sysctl_readable = true;
  static const char* getenv(const char* name, void* self) {
    auto& environment = static_cast<FuzzSources*>(self)->environment;
    auto found = environment.find(name);
    return found == environment.end() ? nullptr : found->second.c_str();
  }
  static bool sysctl(const char*, std::int64_t* value, void* self) {
    *value = 7200;
    return static_cast<FuzzSources*>(self)->sysctl_readable;
  }
  kashim::Sources sources() { return {&FuzzSources::getenv, &FuzzSources::sysctl, this}; }
};

void require(bool condition) {
  if (!condition) abort();  // a finding
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzSources fuzz;
  fuzz.sysctl_readable = size % 2 == 0;
  while (!input.empty()) {
    std::size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    // Values are C strings in a real environment: they end at the first NUL.
    std::string value(line.substr(equals + 1));
    value.resize(std::strlen(value.c_str()));
    fuzz.environment[std::string(line.substr(0, equals))] = value;
  }

  kashim::Config config;
  kashim::parse_config(fuzz.sources(), &config);
  kashim::Config again;
  kashim::parse_config(fuzz.sources(), &again);
  require(config.active == again.active && config.error.view() == again.error.view());
  require(config.active || config.disabled || !config.error.empty());
  require(!config.active || config.error.empty());
  require(config.error.view().find('\n') == std::string_view::npos);
  require(config.selective == (config.active && (!config.peers.empty() ||
                                                 config.direction != kashim::Direction::kBoth)));

  for (int i = 0; i < config.peers.count; ++i) {
    kashim::PatternText text;
    kashim::describe_peer_pattern(config.peers.patterns[i], &text);
    kashim::PeerPattern reparsed;
    require(kashim::parse_peer_pattern(text.view(), &reparsed).empty());
    const kashim::PeerPattern& original = config.peers.patterns[i];
    require(reparsed.family == original.family && reparsed.prefix == original.prefix &&
            reparsed.port == original.port &&
            std::memcmp(reparsed.address, original.address, sizeof original.address) == 0);
  }

  // Peers made of the input's bytes, in both families, against the parsed filter.
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  std::memcpy(&v6.sin6_addr, data, size < 16 ? size : 16);
  v6.sin6_port = htons(static_cast<std::uint16_t>(size));
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  std::memcpy(&v4.sin_addr, data, size < 4 ? size : 4);
  v4.sin_port = v6.sin6_port;
  config.peers.match(reinterpret_cast<sockaddr*>(&v6), sizeof v6);
  config.peers.match(reinterpret_cast<sockaddr*>(&v4), sizeof v4);

  kashim::Report report;
  kashim::describe_config(config, fuzz.sources(), &report);
  require(report.view().starts_with("kashim "));
  return 0;
}
