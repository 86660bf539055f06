#include <algorithm>
#include <array>

#include "format.hpp"
#include "status_output.hpp"

namespace kashim::inspect {
namespace {

constexpr std::size_t kTableWidth = 100;

enum Column { kProcess, kFd, kState, kDir, kLocal, kPeer, kKeepalive, kUto, kTimer, kKashim };
constexpr std::size_t kColumns = kKashim + 1;
using Row = std::array<std::string, kColumns>;

const Row kHeader = {"PID/COMM", "FD",        "STATE", "DIR",   "LOCAL",
                     "PEER",     "KEEPALIVE", "UTO",   "TIMER", "KASHIM"};

// "on 60s/10s/6": the switch, then idle/intvl/cnt.
std::string keepalive_text(const KeepaliveValues& values) {
  if (!values.read) return "?";
  return std::string(values.keepalive ? "on " : "off ") + seconds_text(values.idle_s) + "/" +
         seconds_text(values.intvl_s) + "/" + std::to_string(values.cnt);
}

std::string user_timeout_text(const KeepaliveValues& values) {
  if (!values.read) return "?";
  if (values.user_timeout_ms % 1000 != 0) return std::to_string(values.user_timeout_ms) + "ms";
  return values.user_timeout_ms == 0 ? "0" : seconds_text(values.user_timeout_ms / 1000);
}

// "ka 1h59m/0": which timer, the time left on it, and the probes sent (sock_diag).
std::string timer_text(const SocketView& socket) {
  if (!socket.timer_known) return "?";
  static const char* const kShort[] = {"-", "rtx", "ka", "tw", "zwp"};
  const int timer = socket.diag.timer;
  if (timer <= 0 || timer > 4) return "-";
  return std::string(kShort[timer]) + " " + remaining_text(socket.diag.timer_expires_ms) + "/" +
         std::to_string(socket.diag.probes);
}

}  // namespace

void print_table(const std::vector<ProcessView>& processes, const Config& config, std::FILE* out) {
  std::vector<Row> rows;
  for (const ProcessView& process : processes) {
    const Config& own = config_of(process, config);
    for (const SocketView& socket : process.sockets) {
      const Decision decision = decision_for(own, socket);
      rows.push_back(
          {std::to_string(process.pid) + "/" + printable(process.comm.substr(0, 9)),
           std::to_string(socket.fd), short_state_name(socket.diag.state), side_name(socket.side),
           address_text(socket.diag.local), peer_text(socket.diag),
           socket.reused ? "reused" : keepalive_text(socket.values),
           user_timeout_text(socket.values), timer_text(socket), kashim_label(own, decision)});
    }
  }
  if (rows.empty()) return;
  std::array<std::size_t, kColumns> widths{};
  for (std::size_t c = 0; c < kColumns; ++c) widths[c] = kHeader[c].size();
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < kColumns; ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::size_t total = kColumns - 1;
  for (std::size_t width : widths) total += width;
  // Too wide (long IPv6 addresses): the addresses move to a line of their own under each
  // row, whole, rather than being cut.
  const bool addresses_below = total > kTableWidth;
  auto print_row = [&](const Row& row) {
    std::string line;
    for (std::size_t c = 0; c < kColumns; ++c) {
      if (addresses_below && (c == kLocal || c == kPeer)) continue;
      std::string cell = row[c];
      if (c == kFd) cell.insert(0, widths[c] - cell.size(), ' ');  // numbers to the right
      if (c + 1 < kColumns) cell.resize(widths[c] + 1, ' ');
      line += cell;
    }
    std::fprintf(out, "%s\n", line.c_str());
    if (addresses_below) {
      std::fprintf(out, "  %s -> %s\n", row[kLocal].c_str(), row[kPeer].c_str());
    }
  };
  print_row(kHeader);
  for (const Row& row : rows) print_row(row);
}

}  // namespace kashim::inspect
