// The wrapper's choice of route: automatic from the program's file, or forced with
// --supervise / --preload; what `kashim --check -- COMMAND` says before running anything.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

const Environment kWrapper = {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}};

std::string route_line(const std::vector<std::string>& options, const std::string& command) {
  std::vector<std::string> argv = {KASHIM_WRAPPER_PATH, "--check"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"--", command});
  ProcessRun run = run_command(argv, kWrapper);
  for (const std::string& line : lines_of(run.out + run.err)) {
    if (line.rfind("route: ", 0) == 0) return line;  // the first route line
  }
  return "no route line in: " + run.out + run.err;
}

TEST(SuperviseRoute, SupervisorTellsStaticGoAndDynamicProgramsApart) {
  ProcessRun run = run_command({supervisor_path(), "--route", program_path("static_client")}, {});
  EXPECT_EQ(run.out, "supervise: statically linked (no PT_INTERP)\n");
  run = run_command({supervisor_path(), "--route", "/bin/sh"}, {});
  EXPECT_EQ(run.out.rfind("preload: dynamically linked (PT_INTERP ", 0), 0u) << run.out;
  const std::string script = ::testing::TempDir() + "kashim-route-script";
  std::ofstream(script) << "#!/usr/bin/env bash\nexit 0\n";
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  run = run_command({supervisor_path(), "--route", script}, {});
  std::remove(script.c_str());
  EXPECT_EQ(run.out.rfind("preload: a script for /usr/bin/env, dynamically linked", 0), 0u)
      << run.out;
  EXPECT_NE(run.out.find("; a Go or statically linked program it starts needs --supervise\n"),
            std::string::npos)
      << run.out;
  run = run_command({supervisor_path(), "--route", "/etc/hostname"}, {});
  EXPECT_EQ(run.out, "preload: not an ELF executable\n");
}

// The hint is for shell entry points, which exec the server they start; a Python script
// runs its interpreter, which the preload serves.
TEST(SuperviseRoute, OnlyAShellScriptIsToldThatAProgramItStartsNeedsSupervise) {
  const std::string shell_reason =
      run_command({supervisor_path(), "--route", "/usr/bin/env"}, {}).out.substr(9);
  ASSERT_EQ(shell_reason.rfind("dynamically linked (PT_INTERP ", 0), 0u) << shell_reason;
  const std::string hint = "; a Go or statically linked program it starts needs --supervise";
  const std::string script = scratch_path("script");
  for (const auto& [line, hinted] :
       std::vector<std::pair<std::string, bool>>{{"#!/usr/bin/env python3", false},
                                                 {"#!/usr/bin/env bash", true},
                                                 {"#!/usr/bin/env -S sh -e", true},
                                                 {"#!/usr/bin/env -u PATH dash", true},
                                                 {"#!/usr/bin/env PYTHONPATH=/x python3 -u", false},
                                                 {"#!/usr/bin/env", false}}) {
    std::ofstream(script) << line << "\nexec \"$@\"\n";
    ProcessRun run = run_command({supervisor_path(), "--route", script}, {});
    EXPECT_EQ(run.out, "preload: a script for /usr/bin/env, " +
                           shell_reason.substr(0, shell_reason.size() - 1) + (hinted ? hint : "") +
                           "\n")
        << line;
  }
  std::filesystem::remove(script);
}

// A bad value stops every route the same way, before COMMAND runs: the library's own line,
// naming the option as typed, and exit status 2 (as `kashim cgroup run` has for it).
TEST(SuperviseRoute, AnInvalidConfigurationStopsEveryRouteWithTheSameLine) {
  const std::string line =
      "kashim: --peers 10.0.0.0/33: KASHIM_PEERS pattern \"10.0.0.0/33\" has a prefix that is "
      "not /0 to /32 (accepted: comma-separated ADDRESS[/PREFIX][:PORT] or *:PORT, IPv6 in "
      "brackets when a port follows, e.g. 10.0.0.0/8, 192.0.2.7:5432, fd00::/8, "
      "[2001:db8::]/32:443, [::1]:6379, *:6379)\n";
  for (const std::vector<std::string>& route :
       {std::vector<std::string>{}, {"--preload"}, {"--supervise"}, {"--supervise", "--strict"}}) {
    for (const std::string& command : {std::string("sh"), program_path("static_client")}) {
      std::vector<std::string> argv = {KASHIM_WRAPPER_PATH};
      argv.insert(argv.end(), route.begin(), route.end());
      argv.insert(argv.end(),
                  {"--idle", "30", "--peers", "10.0.0.0/33", "--", command, "-c", "echo ran"});
      ProcessRun run = run_command(argv, kWrapper);
      EXPECT_EQ(run.exit_code, 2) << command << " " << run.err;
      EXPECT_EQ(run.out, "") << "COMMAND must not run";
      EXPECT_EQ(run.err, line) << command;
    }
  }
  // Inherited from the caller: named as the caller set it.
  ProcessRun run =
      run_command({KASHIM_WRAPPER_PATH, "--supervise", "--strict", "--", "sh", "-c", "echo ran"},
                  with(kWrapper, "KASHIM_IDLE", "0"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "kashim: KASHIM_IDLE=0 is out of range 1s..32767s\n");
}

TEST(SuperviseRoute, OddFilesGoToThePreloadWhichLosesNothing) {
  const std::string truncated = scratch_path("truncated");
  std::string head = read_file(program_path("static_client")).substr(0, 40);
  std::ofstream(truncated) << head;
  ProcessRun run = run_command({supervisor_path(), "--route", truncated}, {});
  EXPECT_EQ(run.out, "preload: a truncated ELF file\n");
  const std::string loop = scratch_path("loop");
  std::ofstream(loop) << "#!" << loop << "\n";
  run = run_command({supervisor_path(), "--route", loop}, {});
  EXPECT_NE(run.out.find("preload: a script for " + loop), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("a script nested too deeply"), std::string::npos) << run.out;
  run = run_command({supervisor_path(), "--route", "/nonexistent"}, {});
  EXPECT_EQ(run.out.rfind("preload: cannot read /nonexistent: ", 0), 0u) << run.out;
  std::filesystem::remove(truncated);
  std::filesystem::remove(loop);
}

// A program of another ELF class or machine (a 32-bit program on x86-64, one run through
// binfmt_misc's qemu): the loader would refuse libkashim.so with an error line of its own on
// COMMAND's stderr, and the supervisor's filter lets its system calls pass unseen. The
// wrapper says so and runs it as without kashim; --strict refuses to. (Headers patched
// into a copy of a program: Debian's 32-bit libraries are not installed everywhere.)
TEST(SuperviseRoute, AProgramOfAnotherClassOrMachineIsReachedByNoRoute) {
  const std::string image = read_file(program_path("static_client"));
  ASSERT_GT(image.size(), 0x40u);
  const struct {
    const char* name;
    char elf_class;
    unsigned char machine;  // e_machine's low byte (little-endian), at the same offset in both
    const char* reason;
  } kinds[] = {{"i386", 1, 3, "a 32-bit i386 program"},
               {"aarch64", 2, 183, "a 64-bit aarch64 program"}};
  for (const auto& kind : kinds) {
    std::string patched = image;
    patched[4] = kind.elf_class;  // EI_CLASS
    patched[18] = static_cast<char>(kind.machine);
    patched[19] = 0;
    const std::string path = scratch_path(kind.name);
    std::ofstream(path, std::ios::binary) << patched;
    chmod(path.c_str(), 0755);
    const std::string reason =
        std::string(kind.reason) +
        ": kashim is built for 64-bit x86-64 programs, and neither route reaches it";
    EXPECT_EQ(run_command({supervisor_path(), "--route", path}, {}).out, "none: " + reason + "\n");
    EXPECT_EQ(route_line({}, path), "route: none: " + reason);
    ProcessRun strict = run_command({KASHIM_WRAPPER_PATH, "--strict", "--", path}, kWrapper);
    EXPECT_EQ(strict.exit_code, 125);
    EXPECT_EQ(strict.err, "kashim: " + path + ": " + reason + "; not run (--strict)\n");
    ProcessRun run = run_command({KASHIM_WRAPPER_PATH, "--", path}, kWrapper);
    EXPECT_EQ(lines_of(run.err).at(0), "kashim: " + path + ": " + reason + "; it runs untuned");
    std::filesystem::remove(path);
  }
}

TEST(SuperviseRoute, GoProgramsAreRecognised) {
  KASHIM_REQUIRE_GO();
  ProcessRun run = run_command({supervisor_path(), "--route", program_path("go_client")}, {});
  EXPECT_EQ(run.out,
            "supervise: a Go program (.go.buildinfo section): Go makes its own system calls\n");
  // Without section headers (stripped by sstrip, say), the Go build ID note still tells.
  std::string image = read_file(program_path("go_client"));
  ASSERT_GT(image.size(), 0x40u);
  std::fill(image.begin() + 0x28, image.begin() + 0x30, '\0');  // e_shoff
  std::fill(image.begin() + 0x3c, image.begin() + 0x40, '\0');  // e_shnum, e_shstrndx
  const std::string stripped = scratch_path("go_stripped");
  std::ofstream(stripped, std::ios::binary) << image;
  run = run_command({supervisor_path(), "--route", stripped}, {});
  EXPECT_EQ(run.out, "supervise: a Go program (Go build ID note): Go makes its own system calls\n");
  std::filesystem::remove(stripped);
}

TEST(SuperviseRoute, CheckSaysWhichRouteAndWhyBeforeRunningAnything) {
  EXPECT_EQ(route_line({}, program_path("static_client")),
            "route: supervise: statically linked (no PT_INTERP)");
  EXPECT_EQ(route_line({}, "true").rfind("route: preload: dynamically linked", 0), 0u);
  EXPECT_EQ(route_line({"--supervise"}, "true"), "route: supervise: requested with --supervise");
  EXPECT_EQ(route_line({"--preload"}, program_path("static_client")),
            "route: preload: requested with --preload");
  ProcessRun run = run_command(
      {KASHIM_WRAPPER_PATH, "--check", "--", program_path("static_client"), "127.0.0.1", "1"},
      kWrapper);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("route: supervise: available"), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find("static_client:"), std::string::npos) << "COMMAND must not run";
}

TEST(SuperviseRoute, AStaticProgramIsSupervisedAutomatically) {
  Environment environment = kWrapper;
  environment.emplace_back("KASHIM_LOG", "error");
  ProcessRun run = run_probe_program({KASHIM_WRAPPER_PATH, "--idle", "31", "--intvl", "7", "--cnt",
                                      "4", "--user-timeout", "2500ms", "--"},
                                     SUPERVISE_PROBE_PATH, {"connect"}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("client"), "1/31/7/4/2500");
}

// The common container entry point: a script, which the preload serves, that execs a static
// program. The preload cannot follow it there (what --check says); --supervise can.
TEST(SuperviseRoute, AnEntryPointScriptReachesItsStaticProgramOnlyWithSupervise) {
  const std::string entry = scratch_path("entry");
  std::ofstream(entry) << "#!/bin/sh\nexec \"$@\"\n";
  ASSERT_EQ(chmod(entry.c_str(), 0755), 0);
  EXPECT_NE(route_line({}, entry).find("needs --supervise"), std::string::npos);
  const Environment environment = with(kWrapper, "KASHIM_LOG", "error");
  ProcessRun run = run_probe_program({KASHIM_WRAPPER_PATH, "--idle", "31", "--", entry},
                                     SUPERVISE_PROBE_PATH, {"connect"}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("client").rfind("0/", 0), 0u) << "untuned: " << run.value("client");
  run = run_probe_program({KASHIM_WRAPPER_PATH, "--supervise", "--idle", "31", "--", entry},
                          SUPERVISE_PROBE_PATH, {"connect"}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("client").rfind("1/31/", 0), 0u) << run.value("client");
  std::filesystem::remove(entry);
}

// The kernel allows one listener per filter chain: an inner supervisor cannot start, and
// COMMAND runs under the outer one. Its line says so rather than "untuned".
TEST(SuperviseRoute, UnderAnotherSupervisorTheOuterOneServesAndTheLineSaysSo) {
  const Environment environment = with(kWrapper, "KASHIM_LOG", "error");
  const std::vector<std::string> outer = {KASHIM_WRAPPER_PATH, "--supervise", "--idle", "100",
                                          "--"};
  std::vector<std::string> nested = outer;
  nested.insert(nested.end(), {KASHIM_WRAPPER_PATH, "--supervise", "--idle", "50", "--"});
  ProcessRun run = run_probe_program(nested, SUPERVISE_PROBE_PATH, {"connect"}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("client").rfind("1/100/", 0), 0u) << run.value("client");
  EXPECT_NE(run.err.find("another supervisor's filter is in place); COMMAND runs under the "
                         "enclosing kashim-supervise (pid "),
            std::string::npos)
      << run.err;
  EXPECT_EQ(run.err.find("untuned"), std::string::npos) << run.err;

  nested = outer;
  nested.insert(nested.end(), {KASHIM_WRAPPER_PATH, "--supervise", "--strict", "--"});
  run = run_probe_program(nested, SUPERVISE_PROBE_PATH, {"connect"}, environment);
  EXPECT_EQ(run.exit_code, 125) << run.err;
  EXPECT_NE(run.err.find("COMMAND not run (--strict)"), std::string::npos) << run.err;
}

TEST(SuperviseRoute, TheProgramSeesOnlyTheKashimVariablesItsCallerSet) {
  Environment environment = kWrapper;
  environment.emplace_back("KASHIM_LOG", "error");
  ProcessRun run = run_probe_program({KASHIM_WRAPPER_PATH, "--idle", "31", "--log", "info", "--"},
                                     SUPERVISE_PROBE_PATH, {"environment"}, environment);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("env_KASHIM_LOG"), "error") << "the caller's value, not --log's";
  EXPECT_EQ(run.value("env_KASHIM_LIBRARY"), KASHIM_LIBRARY_PATH);
  EXPECT_EQ(run.values.count("env_KASHIM_IDLE"), 0u);
  EXPECT_EQ(run.values.count("env_LD_PRELOAD"), 0u);
  EXPECT_EQ(run.values.count("env_LD_AUDIT"), 0u);
}

TEST(SuperviseRoute, PreloadStillServesDynamicPrograms) {
  ProcessRun run = run_probe_program({KASHIM_WRAPPER_PATH, "--idle", "31", "--"}, KASHIM_PROBE_PATH,
                                     {"socket", "v4", "stream"}, kWrapper);
  KASHIM_SKIP_WHEN_SANITIZED("the wrapper preloads without the sanitizer runtime");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("idle"), "31");
}

}  // namespace
}  // namespace kashim::testing
