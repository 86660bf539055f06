#include "apply.hpp"

#include <sys/socket.h>

#include <cstring>
#include <iterator>
#include <map>
#include <string>

#include "decide.hpp"
#include "format.hpp"
#include "log_line.hpp"
#include "remote_fd.hpp"
#include "status_output.hpp"

namespace kashim::inspect {
namespace {

// Every configured value is what the kernel now holds.
bool holds_configuration(const Config& config, const KeepaliveValues& values) {
  if (!values.read || !values.keepalive) return false;
  const int held[] = {values.idle_s, values.intvl_s, values.cnt, values.user_timeout_ms};
  for (std::size_t i = 0; i < std::size(kManagedTcpOptions); ++i) {
    const ManagedOption& option = config.*kManagedTcpOptions[i].option;
    if (option.set && option.value != held[i]) return false;
  }
  return true;
}

struct Result {
  int status = kExitOk;
  std::string text;
  bool closed = false;  // the descriptor was closed meanwhile: nothing was tuned
};

// Sets what `decision` names on a fresh duplicate of the socket, and reads it back.
Result tune(const ProcessView& process, const SocketView& socket, const Config& config,
            const Decision& decision) {
  Duplicate duplicate = duplicate_socket(process.files_pidfd(), socket.fd, socket.diag.inode);
  switch (duplicate.outcome) {
    case Duplicate::Outcome::kOk:
      break;
    case Duplicate::Outcome::kReused:
      return {kExitIncomplete, "NOT tuned: the descriptor now holds another file (reused)"};
    case Duplicate::Outcome::kClosed:
      if (!process_exited(process.pidfd.get()))
        return {kExitOk, "closed meanwhile: nothing to tune", true};
      [[fallthrough]];
    case Duplicate::Outcome::kExited:
      return {kExitNoProcess, "NOT tuned: the process exited"};
    case Duplicate::Outcome::kRefused:
      return {kExitNoProcess,
              std::string("NOT tuned: pidfd_getfd: ") + std::strerror(duplicate.error)};
  }
  const OptionBits skip = static_cast<OptionBits>(kAllOptionBits & ~decision.changes);
  const int error = apply_keepalive(duplicate.fd.get(), config, ::setsockopt, skip);
  LogLine now;
  add_kernel_values(&now, duplicate.fd.get());
  const bool held = holds_configuration(config, read_keepalive_values(duplicate.fd.get()));
  if (error != 0) {
    LogLine why;
    add_errno(&why, error);
    return {kExitIncomplete,
            "NOT tuned (" + std::string(why.view()) + "): " + std::string(now.view())};
  }
  if (!held) return {kExitIncomplete, "NOT tuned (read back): " + std::string(now.view())};
  return {kExitOk, "tuned (" + decision.reason + "): " + std::string(now.view())};
}

// "ESTAB out 127.0.0.1:40000 -> 127.0.0.1:5000", "LISTEN [::]:80".
std::string describe(const SocketView& socket) {
  std::string text = std::string(short_state_name(socket.diag.state)) + " ";
  if (socket.side == Side::kListener) return text + address_text(socket.diag.local);
  return text + side_name(socket.side) + " " + address_text(socket.diag.local) + " -> " +
         peer_text(socket.diag);
}

}  // namespace

int apply_to_process(const ProcessView& process, const Config& config, bool dry_run, std::FILE* out,
                     std::FILE* err) {
  if (process.problem != ProcessProblem::kNone) {
    std::fprintf(err, "kashim apply: %s\n", problem_text(process).c_str());
    return kExitNoProcess;
  }
  const std::string who =
      "pid " + std::to_string(process.pid) + " (" + printable(process.comm) + ")";
  if (process.sockets.empty()) std::fprintf(out, "%s: no TCP sockets\n", who.c_str());
  int status = kExitOk;
  // The counts are of sockets: a socket held under several descriptors (dup, SCM_RIGHTS to
  // itself) is decided and tuned once, under the first.
  int tuned = 0, unchanged = 0, left = 0, failed = 0, closed = 0, duplicates = 0;
  std::map<ino_t, int> first_fd;
  for (const SocketView& socket : process.sockets) {
    const auto [seen, first] = first_fd.try_emplace(socket.diag.inode, socket.fd);
    if (!first && !socket.reused) {
      ++duplicates;
      std::fprintf(out, "%s fd %d %s: the same socket as fd %d\n", who.c_str(), socket.fd,
                   describe(socket).c_str(), seen->second);
      continue;
    }
    const Decision decision = decision_for(config, socket);
    Result result;
    switch (decision.verdict) {
      case Verdict::kNotWanted:
      case Verdict::kProgramsOwn:
        result.text = "left alone (" + decision.reason + ")";
        ++left;
        break;
      case Verdict::kAsConfigured:
        result.text = "unchanged (as configured)";
        ++unchanged;
        break;
      case Verdict::kUnknown:
        result = {kExitIncomplete, "NOT tuned (" + decision.reason + ")"};
        break;
      case Verdict::kChange:
        result = dry_run ? Result{kExitOk, "would be tuned (" + decision.reason + ")"}
                         : tune(process, socket, config, decision);
        if (result.closed) {
          ++closed;
          first_fd.erase(socket.diag.inode);  // another descriptor may still hold it
        } else if (result.status == kExitOk) {
          ++tuned;
        }
        break;
    }
    if (result.status != kExitOk) ++failed;
    status = worse(status, result.status);
    std::fprintf(out, "%s fd %d %s: %s\n", who.c_str(), socket.fd, describe(socket).c_str(),
                 result.text.c_str());
    if (status == kExitNoProcess) break;  // the process is gone or shut us out
  }
  std::string extra;
  if (closed > 0) extra += ", " + std::to_string(closed) + " closed meanwhile";
  if (duplicates > 0) {
    const std::size_t descriptors = process.sockets.size();
    const std::size_t sockets = descriptors - static_cast<std::size_t>(duplicates);
    extra += " (counted by socket: " + std::to_string(descriptors) + " descriptors, " +
             std::to_string(sockets) + " socket" + (sockets == 1 ? "" : "s") + ")";
  }
  for (const std::string& line : own_table_lines(process)) {
    std::fprintf(out, "%s: %s\n", who.c_str(), line.c_str());
    status = worse(status, kExitIncomplete);
  }
  std::fprintf(out, "%s: %d %s, %d already as configured, %d left alone, %d not tuned%s\n",
               who.c_str(), tuned, dry_run ? "would be tuned" : "tuned", unchanged, left, failed,
               extra.c_str());
  return status;
}

}  // namespace kashim::inspect
