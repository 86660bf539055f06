#include <algorithm>
#include <utility>

#include "format.hpp"
#include "status_output.hpp"

namespace kashim::inspect {

std::string scope_text(const Config& config) {
  std::string text = "program ";
  text.append(config.scope_program.view()).append(" not in scope (");
  if (config.scope == ProgramVerdict::kExcluded) {
    text.append("excluded by \"").append(config.scope_item.view()).append("\"");
  } else {
    text.append("matches no item of \"").append(config.programs).append("\"");
  }
  return text + ")";
}

Decision decision_for(const Config& config, const SocketView& socket) {
  // As the library decides in a program KASHIM_PROGRAMS leaves out: nothing, for any socket.
  if (config.out_of_scope) return {Verdict::kNotWanted, 0, scope_text(config)};
  if (!config.active) return {Verdict::kNotWanted, 0, "kashim's configuration is disabled"};
  if (socket.reused) return {Verdict::kUnknown, 0, "the descriptor was reused meanwhile"};
  return decide_socket(config, socket.side, socket.diag, socket.values);
}

const char* kashim_label(const Config& config, const Decision& decision) {
  if (config.out_of_scope) return "skip";
  if (!config.active) return "-";
  switch (decision.verdict) {
    case Verdict::kNotWanted:
      return "skip";
    case Verdict::kProgramsOwn:
      return "own";
    case Verdict::kUnknown:
      return "?";
    case Verdict::kAsConfigured:
      return "ok";
    case Verdict::kChange:
      break;
  }
  return "change";
}

const Config& config_of(const ProcessView& process, const Config& command) {
  return process.config != nullptr ? *process.config : command;
}

std::vector<std::string> footnotes(const std::vector<ProcessView>& processes,
                                   const Config& config) {
  std::vector<std::string> lines;
  for (const ProcessView& process : processes) {
    if (process.problem == ProcessProblem::kNoDuplicates) lines.push_back(problem_text(process));
    const std::string who =
        "pid " + std::to_string(process.pid) + " (" + printable(process.comm) + "): ";
    if (!process.note.empty()) lines.push_back(who + process.note);
    for (const std::string& line : own_table_lines(process)) lines.push_back(who + line);
    const Config& own = config_of(process, config);
    if (own.out_of_scope && !process.sockets.empty()) {
      lines.push_back(who + "left alone: " + scope_text(own));
    }
    if (process.problem == ProcessProblem::kNone && process.sockets.empty()) {
      lines.push_back(who + "no TCP sockets");
    }
    // Why TIMER is `?`, once per reason: "fd 4, 5: TIMER unknown: ...".
    std::vector<std::pair<std::string, std::string>> unknown_timers;  // reason, fds
    for (const SocketView& socket : process.sockets) {
      if (socket.reused) {
        lines.push_back(who + "fd " + std::to_string(socket.fd) +
                        " was closed and reused while being read; run again");
      } else if (!socket.timer_known && !socket.timer_note.empty() && process.note.empty()) {
        auto same =
            std::find_if(unknown_timers.begin(), unknown_timers.end(),
                         [&](const auto& entry) { return entry.first == socket.timer_note; });
        if (same == unknown_timers.end()) {
          unknown_timers.emplace_back(socket.timer_note, "fd " + std::to_string(socket.fd));
        } else {
          same->second += ", " + std::to_string(socket.fd);
        }
      }
    }
    for (const auto& [reason, fds] : unknown_timers) {
      lines.push_back(who + fds + ": TIMER unknown: " + reason);
    }
  }
  return lines;
}

}  // namespace kashim::inspect
