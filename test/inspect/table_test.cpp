// The status table's layout, from views made up here: with the longest values of every
// column it still fits 100 columns, and no address is cut.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "harness.hpp"
#include "status_output.hpp"

namespace kashim::testing {
namespace {

sockaddr_storage ipv6(const char* text, int port) {
  sockaddr_storage address{};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(address);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET6, text, &in6.sin6_addr);
  return address;
}

std::string table_of(const std::vector<inspect::ProcessView>& views) {
  char* text = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  Config config;  // inactive: the KASHIM column says "-"
  inspect::print_table(views, config, out);
  std::fclose(out);
  std::string result(text, size);
  std::free(text);
  return result;
}

TEST(InspectTable, LongIpv6AddressesGoOnALineOfTheirOwn) {
  std::vector<inspect::ProcessView> views(1);
  views[0].pid = 4194304;  // the largest PID Linux hands out
  views[0].comm = "a-long-program-name";
  inspect::SocketView socket;
  socket.fd = 65535;
  socket.diag.family = AF_INET6;
  socket.diag.state = TCP_CLOSE_WAIT;
  socket.diag.local = ipv6("2001:db8:1234:5678:9abc:def0:1234:5678", 65535);
  socket.diag.peer = ipv6("2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa", 65534);
  socket.side = inspect::Side::kOpened;
  socket.values = {true, true, 32767, 32767, 127, 2147483647};
  socket.timer_known = true;
  socket.diag.timer = 1;
  socket.diag.timer_expires_ms = 3599999;
  socket.diag.probes = 15;
  views[0].sockets.push_back(socket);

  const auto lines = lines_of(table_of(views));
  ASSERT_EQ(lines.size(), 4u);  // the header and a row, each followed by its addresses
  for (const std::string& line : lines) EXPECT_LE(line.size(), 100u) << line;
  EXPECT_EQ(lines[1], "  LOCAL -> PEER");
  EXPECT_EQ(lines[3],
            "  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 -> "
            "[2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa]:65534");
  EXPECT_TRUE(
      lines[2].starts_with("4194304/a-long-pr 65535 CLOSE-WAIT out on 32767s/32767s/127 "
                           "2147483647ms rtx 59m59s/15 -"))
      << lines[2];

  // A usual row stays on one line, IPv4 addresses included.
  views[0].pid = 12345;
  views[0].comm = "postgres";
  auto& usual = views[0].sockets[0];
  usual.fd = 12;
  usual.diag.state = TCP_ESTABLISHED;
  usual.values = {true, true, 7200, 75, 9, 0};
  usual.diag = {usual.diag.inode, AF_INET, TCP_ESTABLISHED, {}, {}, 2, 7199000, 0};
  reinterpret_cast<sockaddr_in&>(usual.diag.local) = {
      AF_INET, htons(5432), {htonl(0xc0a864c8)}, {}};
  reinterpret_cast<sockaddr_in&>(usual.diag.peer) = {
      AF_INET, htons(51234), {htonl(0x0a00000c)}, {}};
  const auto usual_lines = lines_of(table_of(views));
  ASSERT_EQ(usual_lines.size(), 2u);
  EXPECT_EQ(usual_lines[1],
            "12345/postgres 12 ESTAB out 192.168.100.200:5432 10.0.0.12:51234 on 2h/75s/9 0   "
            "ka 1h59m/0 -");
}

TEST(InspectTable, NothingToShowPrintsNothing) {
  EXPECT_EQ(table_of({}), "");
}

}  // namespace
}  // namespace kashim::testing
