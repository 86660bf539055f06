#include <string>

#include "format.hpp"
#include "status_output.hpp"

namespace kashim::inspect {
namespace {

std::string number_or_null(bool known, long long value) {
  return known ? std::to_string(value) : "null";
}

std::string option_json(const ManagedOption& option) {
  return option.set ? std::to_string(option.value) : "null";
}

std::string configuration_json(const Config& config) {
  return std::string("{\"active\":") + (config.active ? "true" : "false") +
         ",\"mode\":" + (config.mode == Mode::kForce ? "\"force\"" : "\"fallback\"") +
         ",\"direction\":" + json_string(std::string(direction_name(config.direction))) +
         ",\"peer_patterns\":" + std::to_string(config.peers.count) +
         ",\"idle_s\":" + option_json(config.idle_s) +
         ",\"intvl_s\":" + option_json(config.intvl_s) + ",\"cnt\":" + option_json(config.cnt) +
         ",\"user_timeout_ms\":" + option_json(config.user_timeout_ms) +
         ",\"programs\":" + (config.programs[0] == '\0' ? "null" : json_string(config.programs)) +
         ",\"in_scope\":" + (config.out_of_scope ? "false" : "true") + "}";
}

std::string socket_json(const Config& config, const SocketView& socket) {
  const KeepaliveValues& values = socket.values;
  const Decision decision = decision_for(config, socket);
  socklen_t peer_length = 0;
  const bool has_peer = peer_of(socket.diag, &peer_length) != nullptr;
  const bool has_timer = socket.timer_known && socket.diag.timer != 0;
  std::string text = "{\"fd\":" + std::to_string(socket.fd) +
                     ",\"inode\":" + std::to_string(socket.diag.inode) +
                     ",\"family\":" + (socket.diag.family == AF_INET6 ? "\"ipv6\"" : "\"ipv4\"") +
                     ",\"state\":" + json_string(tcp_state_name(socket.diag.state)) +
                     ",\"direction\":" + json_string(side_name(socket.side)) +
                     ",\"local\":" + json_string(address_text(socket.diag.local)) +
                     ",\"peer\":" + (has_peer ? json_string(peer_text(socket.diag)) : "null");
  text += std::string(",\"reused\":") + (socket.reused ? "true" : "false");
  text += std::string(",\"keepalive\":") +
          (values.read ? (values.keepalive ? "true" : "false") : "null");
  text += ",\"idle_s\":" + number_or_null(values.read, values.idle_s);
  text += ",\"intvl_s\":" + number_or_null(values.read, values.intvl_s);
  text += ",\"cnt\":" + number_or_null(values.read, values.cnt);
  text += ",\"user_timeout_ms\":" + number_or_null(values.read, values.user_timeout_ms);
  text += ",\"timer\":" + (has_timer ? json_string(timer_name(socket.diag.timer)) : "null");
  text += ",\"timer_expires_ms\":" + number_or_null(has_timer, socket.diag.timer_expires_ms);
  text += ",\"probes\":" + number_or_null(socket.timer_known, socket.diag.probes);
  text +=
      ",\"timer_note\":" + (socket.timer_note.empty() ? "null" : json_string(socket.timer_note));
  text += ",\"kashim\":" + json_string(kashim_label(config, decision));
  text += ",\"kashim_reason\":" + json_string(decision.reason) + "}";
  return text;
}

// [{"thread":TID,"sockets":N}, ...]: threads' own descriptor tables, not read.
std::string unread_tables_json(const ProcessView& process) {
  std::string text = "[";
  for (const auto& [thread, sockets] : process.own_tables) {
    if (text.size() > 1) text += ",";
    text +=
        "{\"thread\":" + std::to_string(thread) + ",\"sockets\":" + std::to_string(sockets) + "}";
  }
  return text + "]";
}

}  // namespace

void print_json(const std::vector<ProcessView>& processes, const Config& config, std::FILE* out) {
  std::string text = "{\"configuration\":" + configuration_json(config) + ",\"processes\":[";
  for (std::size_t p = 0; p < processes.size(); ++p) {
    const ProcessView& process = processes[p];
    const Config& own = config_of(process, config);
    const std::string problem = problem_text(process);
    if (p > 0) text += ",";
    text += "{\"pid\":" + std::to_string(process.pid) + ",\"comm\":" + json_string(process.comm) +
            ",\"complete\":" +
            (process.problem == ProcessProblem::kNone && process.own_tables.empty() ? "true"
                                                                                    : "false") +
            ",\"problem\":" + (problem.empty() ? "null" : json_string(problem)) +
            ",\"note\":" + (process.note.empty() ? "null" : json_string(process.note)) +
            ",\"unread_tables\":" + unread_tables_json(process) +
            ",\"configuration\":" + configuration_json(own) + ",\"sockets\":[";
    for (std::size_t s = 0; s < process.sockets.size(); ++s) {
      if (s > 0) text += ",";
      text += socket_json(own, process.sockets[s]);
    }
    text += "]}";
  }
  text += "]}\n";
  std::fputs(text.c_str(), out);
}

}  // namespace kashim::inspect
