#include "format.hpp"
#include "status_output.hpp"

namespace kashim::inspect {

Decision decision_for(const Config& config, const SocketView& socket) {
  if (!config.active) return {Verdict::kNotWanted, 0, "kashim's configuration is disabled"};
  if (socket.reused) return {Verdict::kUnknown, 0, "the descriptor was reused meanwhile"};
  return decide_socket(config, socket.side, socket.diag, socket.values);
}

const char* kashim_label(const Config& config, const Decision& decision) {
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

std::vector<std::string> footnotes(const std::vector<ProcessView>& processes) {
  std::vector<std::string> lines;
  for (const ProcessView& process : processes) {
    if (process.problem == ProcessProblem::kNoDuplicates) lines.push_back(problem_text(process));
    const std::string who =
        "pid " + std::to_string(process.pid) + " (" + printable(process.comm) + "): ";
    if (!process.note.empty()) lines.push_back(who + process.note);
    if (process.problem == ProcessProblem::kNone && process.sockets.empty()) {
      lines.push_back(who + "no TCP sockets");
    }
    for (const SocketView& socket : process.sockets) {
      if (socket.reused) {
        lines.push_back(who + "fd " + std::to_string(socket.fd) +
                        " was closed and reused while being read; run again");
      }
    }
  }
  return lines;
}

}  // namespace kashim::inspect
