// What libkashim.so is as a file: what it exports and what it needs at run time.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

std::set<std::string> words_matching(const std::string& text, int column,
                                     const std::string& must_contain) {
  std::set<std::string> found;
  for (const std::string& line : lines_of(text)) {
    if (line.find(must_contain) == std::string::npos) continue;
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i <= column && fields >> field; ++i) {
    }
    found.insert(field);
  }
  return found;
}

TEST(Library, ExportsOnlyTheHooks) {
  ProcessRun run = run_command({"nm", "-D", "--defined-only", KASHIM_LIBRARY_PATH}, {});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // nm prints "ADDRESS TYPE NAME"; every defined dynamic symbol is listed.
  std::set<std::string> names;
  for (const std::string& line : lines_of(run.out)) {
    std::istringstream fields(line);
    std::string address, type, name;
    fields >> address >> type >> name;
    names.insert(name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"accept", "accept4", "connect", "setsockopt", "socket"}));
}

TEST(Library, AuditModuleExportsOnlyTheAuditInterface) {
  ProcessRun run = run_command({"nm", "-D", "--defined-only", KASHIM_AUDIT_PATH}, {});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::set<std::string> names;
  for (const std::string& line : lines_of(run.out)) {
    std::istringstream fields(line);
    std::string address, type, name;
    fields >> address >> type >> name;
    names.insert(name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"la_objopen", "la_symbind64", "la_version"}));
  ProcessRun needed = run_command({"readelf", "-d", KASHIM_AUDIT_PATH}, {});
  EXPECT_EQ(words_matching(needed.out, 4, "(NEEDED)"), (std::set<std::string>{"[libc.so.6]"}));
}

TEST(Library, NeedsNothingButLibc) {
  ProcessRun run = run_command({"readelf", "-d", KASHIM_LIBRARY_PATH}, {});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // "0x... (NEEDED)  Shared library: [libc.so.6]"
  std::set<std::string> needed = words_matching(run.out, 4, "(NEEDED)");
  EXPECT_EQ(needed, (std::set<std::string>{"[libc.so.6]"})) << run.out;
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
