#include "inspect_helpers.hpp"

#include <unistd.h>

#include <regex>

namespace kashim::testing {

ProcessRun kashim(const std::vector<std::string>& args, const Environment& environment) {
  return kashim_as({}, args, environment);
}

ProcessRun kashim_as(const std::vector<std::string>& prefix, const std::vector<std::string>& args,
                     const Environment& environment) {
  std::vector<std::string> argv = prefix;
  argv.push_back(KASHIM_WRAPPER_PATH);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, with(environment, "KASHIM_LIBRARY", KASHIM_LIBRARY_PATH));
}

Child start_target() {
  return Child({KASHIM_INSPECT_TARGET_PATH});
}

Child start_static_target() {
  return Child({KASHIM_INSPECT_STATIC_TARGET_PATH});
}

std::string socket_object(const std::string& json, int pid, int fd) {
  const std::string process = "{\"pid\":" + std::to_string(pid) + ",";
  const auto start = json.find(process);
  if (start == std::string::npos) return "";
  const auto next_process = json.find("{\"pid\":", start + 1);
  const std::string key = "{\"fd\":" + std::to_string(fd) + ",";
  const auto at = json.find(key, start);
  if (at == std::string::npos || at > next_process) return "";
  return json.substr(at, json.find('}', at) - at + 1);
}

std::string first_socket(const std::string& json) {
  const auto at = json.find("{\"fd\":");
  return at == std::string::npos ? "" : json.substr(at, json.find('}', at) - at + 1);
}

std::string field(const std::string& object, const std::string& name) {
  const std::regex pattern("\"" + name + "\":(\"[^\"]*\"|[^,}]*)");
  std::smatch match;
  return std::regex_search(object, match, pattern) ? match[1].str() : "";
}

int socket_count(const std::string& json) {
  int count = 0;
  for (auto at = json.find("{\"fd\":"); at != std::string::npos;
       at = json.find("{\"fd\":", at + 1)) {
    ++count;
  }
  return count;
}

const std::vector<std::string> kApplied = {"--idle", "60", "--intvl",        "10",
                                           "--cnt",  "6",  "--user-timeout", "30s"};
const std::string kAppliedValues = "keepalive 1 idle 60 intvl 10 cnt 6 user_timeout 30000";
std::string untuned_values() {
  auto sysctl = [](const std::string& name) {
    std::string text = read_file("/proc/sys/net/ipv4/" + name);
    return text.substr(0, text.find('\n'));
  };
  return "keepalive 0 idle " + sysctl("tcp_keepalive_time") + " intvl " +
         sysctl("tcp_keepalive_intvl") + " cnt " + sysctl("tcp_keepalive_probes") +
         " user_timeout 0";
}

bool running_as_root() {
  return geteuid() == 0;
}

}  // namespace kashim::testing
