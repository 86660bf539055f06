// What libkashim.so is as a file: what it exports and what it needs at run time.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

// The dynamic symbols a library defines: nm prints "ADDRESS TYPE NAME" for each.
std::set<std::string> exported_symbols(const std::string& library) {
  ProcessRun run = run_command({"nm", "-D", "--defined-only", library}, {});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::set<std::string> names;
  for (const std::string& line : lines_of(run.out)) {
    std::istringstream fields(line);
    std::string address, type, name;
    fields >> address >> type >> name;
    names.insert(name);
  }
  return names;
}

// Its NEEDED entries: readelf prints "0x... (NEEDED)  Shared library: [libc.so.6]".
std::set<std::string> needed_libraries(const std::string& library) {
  ProcessRun run = run_command({"readelf", "-d", library}, {});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::set<std::string> needed;
  for (const std::string& line : lines_of(run.out)) {
    std::size_t open = line.find("(NEEDED)");
    if (open == std::string::npos) continue;
    std::size_t start = line.find('[', open), end = line.find(']', open);
    needed.insert(line.substr(start + 1, end - start - 1));
  }
  return needed;
}

TEST(Library, ExportsOnlyTheHooks) {
  EXPECT_EQ(exported_symbols(KASHIM_LIBRARY_PATH),
            (std::set<std::string>{"accept", "accept4", "connect", "sendmsg", "sendto",
                                   "setsockopt", "socket"}));
}

TEST(Library, NeedsNothingButLibc) {
  KASHIM_SKIP_WHEN_SANITIZED("the library needs the sanitizer runtime");
  EXPECT_EQ(needed_libraries(KASHIM_LIBRARY_PATH), (std::set<std::string>{"libc.so.6"}));
}

TEST(Library, AuditModuleExportsOnlyTheAuditInterfaceAndNeedsOnlyLibc) {
  EXPECT_EQ(exported_symbols(KASHIM_AUDIT_PATH),
            (std::set<std::string>{"la_objopen", "la_symbind64", "la_version"}));
  EXPECT_EQ(needed_libraries(KASHIM_AUDIT_PATH), (std::set<std::string>{"libc.so.6"}));
}

TEST(Library, LoadsIntoACProgramWithoutTheCxxRuntime) {
  // /bin/true is C and does not load libstdc++: the library must start inside it.
  ProcessRun run =
      run_command({"/bin/true"}, {{"LD_PRELOAD", KASHIM_LIBRARY_PATH}, {"KASHIM_CHECK", "1"}});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(run.err.starts_with("kashim " KASHIM_VERSION ": configuration valid")) << run.err;
}

}  // namespace
}  // namespace kashim::testing
