// What libkashim.so is as a file: what it exports and what it needs at run time.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

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

// The hooked names are written in three places: the hooks themselves (hooks.cpp), what the
// library exports (kashim.map) and what the audit module redirects (audit.cpp). A name
// added to one and not the others would be a hook the audit module never reaches, or one
// the library never exports.
std::set<std::string> matches_in(const std::string& text, const std::string& pattern) {
  std::set<std::string> names;
  std::regex expression(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), expression);
       it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

TEST(Library, TheHookedNamesAreTheSameInEveryList) {
  const std::string source = KASHIM_SOURCE_DIR "/shim/";
  const std::set<std::string> hooks =
      matches_in(read_file(source + "hooks.cpp"), R"(KASHIM_HOOK [a-z_]+ ([a-z0-9_]+)\()");
  const std::string map = read_file(source + "kashim.map");
  const std::string global =
      map.substr(map.find("global:"), map.find("local:") - map.find("global:"));
  const std::string audit = read_file(source + "audit.cpp");
  const std::string hooked = audit.substr(audit.find("kHooked[] = {"));
  ASSERT_EQ(hooks.size(), 7u);
  EXPECT_EQ(matches_in(global, R"(\b([a-z0-9_]+);)"), hooks);
  EXPECT_EQ(matches_in(hooked.substr(0, hooked.find("};")), R"re("([a-z0-9_]+)")re"), hooks);
  EXPECT_EQ(exported_symbols(KASHIM_LIBRARY_PATH), hooks);
}

// libc and nothing else: no C++ runtime, and not the dynamic loader by name either (the shim
// finds the loader's list of objects through the program's DT_DEBUG, shim/loaded_objects.cpp):
// each needed library is one more object the loader matches and checks the versions of at
// every process start.
TEST(Library, NeedsNothingButLibc) {
  KASHIM_SKIP_WHEN_SANITIZED("the library needs the sanitizer runtime");
  EXPECT_EQ(needed_libraries(KASHIM_LIBRARY_PATH), (std::set<std::string>{"libc.so.6"}));
}

// The library's unwind tables end with the zero word an unwinder that walks .eh_frame (rather
// than .eh_frame_hdr's table) stops at: crtendS.o's, linked last though the start files are
// not (CMakeLists.txt). Without it such a walk read on into whatever followed the section.
TEST(Library, ItsUnwindTablesEndWithTheirTerminator) {
  ProcessRun run = run_command({"readelf", "-SW", KASHIM_LIBRARY_PATH}, {});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::smatch match;
  // "[17] .eh_frame  PROGBITS  ADDRESS OFFSET SIZE ..."
  std::regex section(R"(\] \.eh_frame +PROGBITS +[0-9a-f]+ ([0-9a-f]+) ([0-9a-f]+))");
  ASSERT_TRUE(std::regex_search(run.out, match, section)) << run.out;
  const std::size_t offset = std::stoul(match[1], nullptr, 16);
  const std::size_t size = std::stoul(match[2], nullptr, 16);
  const std::string file = read_file(KASHIM_LIBRARY_PATH);
  ASSERT_LE(offset + size, file.size());
  // Record by record, as such an unwinder walks: each begins with its length; the
  // terminator is a record of length 0, and must be the last 4 bytes.
  std::size_t at = offset, end = offset + size;
  bool terminated = false;
  while (at + 4 <= end) {
    std::uint32_t length;
    memcpy(&length, file.data() + at, sizeof length);
    if (length == 0) {
      terminated = at + 4 == end;
      break;
    }
    ASSERT_NE(length, 0xffffffffu) << "64-bit records are not expected here";
    at += 4 + length;
  }
  EXPECT_TRUE(terminated) << "the records end at " << at - offset << " of " << size << " bytes";
}

// Every function kashim's own code calls through the dynamic linker is one a program (or an
// interposer in front) may define itself and so be called by kashim: its own I/O and
// memory and the signals it holds while it writes are system calls (core/kernel.hpp), its
// string functions its own (shim/own_string.cpp). What remains is what only libc and the
// loader know: errno, the process's environment and auxiliary vector, cancellation, the
// loaded objects, and address text. A new import belongs here only with a reason as good.
TEST(Library, ImportsOnlyWhatOnlyLibcAndTheLoaderKnow) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime adds its own imports");
  ProcessRun run = run_command({"nm", "-D", "--undefined-only", KASHIM_LIBRARY_PATH}, {});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::set<std::string> imports;
  for (const std::string& line : lines_of(run.out)) {
    std::istringstream fields(line);
    std::string type, name;
    fields >> type >> name;
    imports.insert(name.substr(0, name.find('@')));
  }
  const std::set<std::string> allowed = {
      // errno, the environment, the program's name, the auxiliary vector
      "__errno_location", "__environ", "environ", "__progname_full", "program_invocation_name",
      "getauxval", "secure_getenv",
      // the loader's list of objects and its look-up, where kashim's own walk cannot answer
      "dl_iterate_phdr", "dlsym",
      // cancellation, whose state libc keeps
      "pthread_setcancelstate",
      // address text in log lines and peer patterns
      "inet_ntop", "inet_pton",
      // system calls on architectures kernel::raw does not cover
      "syscall"};
  for (const std::string& name : imports) {
    EXPECT_TRUE(allowed.count(name) == 1) << name << " is imported from libc";
  }
}

// The kernel's view of a process started with `environment`: /bin/cat's own
// /proc/self/maps, a mapping a line, in address order.
struct Mapping {
  std::string permissions, offset, path;
};
std::vector<Mapping> mappings_under(const Environment& environment) {
  ProcessRun run = run_command({"/bin/cat", "/proc/self/maps"}, environment);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::vector<Mapping> mappings;
  std::istringstream maps(run.out);
  for (std::string line; std::getline(maps, line);) {
    std::istringstream fields(line);
    std::string range, device, inode;
    Mapping mapping;
    fields >> range >> mapping.permissions >> mapping.offset >> device >> inode >> mapping.path;
    mappings.push_back(mapping);
  }
  return mappings;
}

// The permissions of the mappings of the file named `file_name`, in address order.
std::vector<std::string> permissions_of(const std::string& file_name,
                                        const std::vector<Mapping>& mappings) {
  std::vector<std::string> permissions;
  for (const Mapping& mapping : mappings) {
    if (mapping.path.ends_with("/" + file_name)) permissions.push_back(mapping.permissions);
  }
  return permissions;
}

// The loader loads what an audit module needs into the module's namespace a second time: a
// module needing libc cost every process of the wrapper's command ~0.2 ms at start.
TEST(Library, AuditModuleExportsOnlyTheAuditInterfaceAndNeedsNoLibrary) {
  EXPECT_EQ(exported_symbols(KASHIM_AUDIT_PATH),
            (std::set<std::string>{"la_activity", "la_objopen", "la_symbind64", "la_version"}));
  EXPECT_EQ(needed_libraries(KASHIM_AUDIT_PATH), std::set<std::string>{});
  // The kernel's view: libc's file mapped from its start once, as without the module. A copy
  // of the module is one executable mapping (its file fits in the one page that both its
  // segments map from).
  int libc_copies = 0, audit_copies = 0;
  for (const Mapping& mapping : mappings_under({{"LD_AUDIT", KASHIM_AUDIT_PATH}})) {
    libc_copies += mapping.offset == "00000000" && mapping.path.ends_with("/libc.so.6");
    audit_copies += mapping.permissions == "r-xp" && mapping.path.ends_with("/libkashim-audit.so");
  }
  EXPECT_EQ(audit_copies, 1);
  EXPECT_EQ(libc_copies, 1);
}

// The kernel's view of a process the library was preloaded into: the loader mapped it in two
// segments (read and execute; read and write, of which the part the loader protects after
// relocation, RELRO, is read only), where GNU ld's default layout on x86-64 gives a library
// four segments and five mappings. Each mapping is one more mmap() or mprotect() and one more
// area for the kernel to make and tear down in every process: ~20 us of a /bin/true start
// here (scripts/bench 5, doc/performance.md). Nothing is mapped writable and executable.
TEST(Library, IsMappedInTwoSegmentsWithItsRelocatedPartReadOnly) {
  const std::vector<std::string> expected = {"r-xp", "r--p", "rw-p"};
  EXPECT_EQ(permissions_of("libkashim.so",
                           mappings_under({{"LD_PRELOAD", preload_value(KASHIM_LIBRARY_PATH)},
                                           {"KASHIM_IDLE", "30"}})),
            expected);
  // The audit module writes nothing after the loader has relocated it: with GNU ld all of its
  // writable part is protected then; lld gives the data past RELRO a segment of its own.
  const std::vector<std::string> audit =
      permissions_of("libkashim-audit.so", mappings_under({{"LD_AUDIT", KASHIM_AUDIT_PATH}}));
  const std::vector<std::string> all_protected = {"r-xp", "r--p"};
  EXPECT_EQ(audit, KASHIM_LINKER_IS_LLD ? expected : all_protected);
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
