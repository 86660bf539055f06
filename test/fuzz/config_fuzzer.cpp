// libFuzzer target for the whole configuration parser: every variable, the configuration
// file with its sections and program scoping, the peer patterns, the --check report and the
// peer matcher. The input is an environment, one NAME=VALUE per line; a line "%program
// NAME" names the program; a line "%file" starts the configuration file, which is the rest
// of the input. The seeds and the dictionary name the variables and keys.
//
// Checks, beyond "no crash and no undefined behaviour" (ASan, UBSan): the parse is
// deterministic; the shim is active, or disabled, or out of scope, or has exactly one error
// line; every parsed pattern, written out as --check shows it, parses back to the same
// pattern; the file is only a layer: a valid file's settings, given as variables instead,
// give the same configuration; checking every section only ever adds an error.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "config.hpp"
#include "fake_sources.hpp"
#include "peers.hpp"

namespace {

using kashim::testing::FakeSources;

void require(bool condition) {
  if (!condition) abort();  // a finding
}

FakeSources read_input(std::string_view input, std::size_t size) {
  FakeSources fuzz;
  fuzz.sysctls = {
      {"tcp_keepalive_time", 7200}, {"tcp_keepalive_intvl", 7200}, {"tcp_keepalive_probes", 7200}};
  fuzz.sysctl_readable = size % 2 == 0;
  while (!input.empty()) {
    std::size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    if (line == "%file") {
      fuzz.file_text = std::string(input);
      break;
    }
    if (line.substr(0, 9) == "%program ") {
      fuzz.executable = fuzz.invoked = std::string(line.substr(9));
      continue;
    }
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    // Values are C strings in a real environment: they end at the first NUL.
    std::string value(line.substr(equals + 1));
    value.resize(std::strlen(value.c_str()));
    fuzz.environment[std::string(line.substr(0, equals))] = value;
  }
  return fuzz;
}

void check_invariants(const kashim::Config& config) {
  require(config.active || config.disabled || config.out_of_scope || !config.error.empty());
  require(!config.active || config.error.empty());
  require(!config.out_of_scope || (config.error.empty() && !config.active));
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
}

bool blank(std::string_view value) {
  return value.find_first_not_of(" \t\n\r\f\v") == std::string_view::npos;
}

bool same_option(const kashim::ManagedOption& a, const kashim::ManagedOption& b) {
  return a.set == b.set && a.value == b.value;
}

// The file as a layer: each of its settings that no variable sets, moved into the
// environment, must give the same configuration (values and status, not origins).
void check_layering(FakeSources fuzz, const kashim::Config& config) {
  if (!fuzz.file_text || !fuzz.file().error.empty()) return;
  for (const kashim::FileSetting& setting : fuzz.file().settings) {
    if (setting.value.empty()) continue;
    std::string variable = "KASHIM_" + std::string(setting.key);
    for (char& c : variable) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    // libkeepalive's variables come after KASHIM_'s but before the file.
    std::string alias = variable == "KASHIM_IDLE"    ? "KEEPIDLE"
                        : variable == "KASHIM_INTVL" ? "KEEPINTVL"
                        : variable == "KASHIM_CNT"   ? "KEEPCNT"
                                                     : "";
    if (!alias.empty() && !blank(fuzz.environment[alias])) continue;
    std::string& slot = fuzz.environment[variable];
    if (blank(slot)) slot = std::string(setting.value);
  }
  fuzz.file_text.reset();
  kashim::Config flat = fuzz.parse();
  require(flat.active == config.active && flat.disabled == config.disabled &&
          flat.out_of_scope == config.out_of_scope && flat.error.empty() == config.error.empty());
  if (!config.active) return;
  require(same_option(flat.idle_s, config.idle_s) && same_option(flat.intvl_s, config.intvl_s) &&
          same_option(flat.cnt, config.cnt) &&
          same_option(flat.user_timeout_ms, config.user_timeout_ms) && flat.mode == config.mode &&
          flat.direction == config.direction && flat.peers.count == config.peers.count &&
          flat.log_level == config.log_level && std::strcmp(flat.log_file, config.log_file) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  FakeSources fuzz = read_input(input, size);

  kashim::Config config;
  kashim::parse_config(fuzz.sources(), &config);
  kashim::Config again;
  kashim::parse_config(fuzz.sources(), &again);
  require(config.active == again.active && config.error.view() == again.error.view());
  check_invariants(config);
  check_layering(fuzz, config);

  // As the process parses: every section's values checked too. Only stricter.
  if (fuzz.file_text) {
    kashim::Config whole;
    kashim::parse_config_with_file(*fuzz.file_text, fuzz.sources(), &whole);
    check_invariants(whole);
    require(!whole.active || config.active);
    require(whole.active == config.active || !whole.error.empty());
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
  require(report.view().substr(0, 7) == "kashim ");
  return 0;
}
