// The configuration file as parse_config reads it: keys, comments, sections, precedence
// (variable > first matching [program] section > global part), origins, errors with
// file:line, and program scoping.
#include <gtest/gtest.h>

#include <string>

#include "config.hpp"
#include "config_file.hpp"
#include "fake_sources.hpp"

namespace kashim {
namespace {

using testing::FakeSources;

struct Parsed {
  Config config;
  std::string report;
};

Parsed run(std::string file, std::map<std::string, std::string> environment = {},
           std::string executable = "", std::string invoked = "") {
  FakeSources fake;
  fake.file_text = std::move(file);
  fake.environment = std::move(environment);
  fake.executable = std::move(executable);
  fake.invoked = invoked.empty() ? fake.executable : std::move(invoked);
  Parsed result{fake.parse(), {}};
  Report report;
  describe_config(result.config, fake.sources(), &report);
  result.report = std::string(report.view());
  return result;
}

std::string error_of(std::string file, std::map<std::string, std::string> environment = {}) {
  Parsed result = run(std::move(file), std::move(environment), "app");
  EXPECT_FALSE(result.config.active) << "an error must leave the shim inert";
  return std::string(result.config.error.view());
}

TEST(ConfigFile, EveryKeyIsAVariableWithoutItsPrefix) {
  Parsed result =
      run("idle = 60\nintvl = 10\ncnt = 6\nuser_timeout = 2m\nmode = fallback\n"
          "peers = 10.0.0.0/8, fd00::/8\ndirection = out\nlog = info\nlog_file = /var/log/k.log\n"
          "disable = 0\nprograms = *\n");
  const Config& config = result.config;
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.idle_s.value, 60);
  EXPECT_STREQ(config.idle_s.source, "idle");
  EXPECT_EQ(config.idle_s.line, 1);
  EXPECT_EQ(config.intvl_s.value, 10);
  EXPECT_EQ(config.cnt.value, 6);
  EXPECT_EQ(config.user_timeout_ms.value, 120000);
  EXPECT_EQ(config.mode, Mode::kFallback);
  EXPECT_EQ(config.peers.count, 2);
  EXPECT_EQ(config.direction, Direction::kOut);
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_STREQ(config.log_file, "/var/log/k.log");
  EXPECT_STREQ(config.programs, "*");
  EXPECT_STREQ(config.file, "/etc/kashim.conf");
  EXPECT_TRUE(config.file_present);
}

TEST(ConfigFile, CommentsBlanksAndCase) {
  Parsed result =
      run("# kashim\n\n   \t\nIDLE=61   # a minute and a second\r\n  Cnt =  5\n"
          "log_file = /var/log/a#b.log\n#idle = 1\n");
  ASSERT_TRUE(result.config.active) << result.config.error.view();
  EXPECT_EQ(result.config.idle_s.value, 61);
  EXPECT_EQ(result.config.idle_s.line, 4);
  EXPECT_EQ(result.config.cnt.value, 5);
  EXPECT_STREQ(result.config.log_file, "/var/log/a#b.log") << "# inside a word is no comment";
}

TEST(ConfigFile, EmptyValueIsUnsetAsAnEmptyVariableIs) {
  Parsed result = run("idle =\ncnt = 4\n");
  ASSERT_TRUE(result.config.active);
  EXPECT_FALSE(result.config.idle_s.set);
}

TEST(ConfigFile, AVariableWinsOverTheFile) {
  Parsed result = run("idle = 60\nintvl = 10\n", {{"KASHIM_IDLE", "30"}, {"KEEPINTVL", "5"}});
  ASSERT_TRUE(result.config.active);
  EXPECT_EQ(result.config.idle_s.value, 30);
  EXPECT_STREQ(result.config.idle_s.source, "KASHIM_IDLE");
  EXPECT_EQ(result.config.idle_s.line, 0);
  EXPECT_EQ(result.config.intvl_s.value, 5) << "libkeepalive's variables are variables too";
}

TEST(ConfigFile, ABlankVariableLeavesTheFilesValue) {
  Parsed result = run("idle = 60\n", {{"KASHIM_IDLE", " "}});
  EXPECT_EQ(result.config.idle_s.value, 60);
}

constexpr const char* kSections =
    "idle = 60\n"           // 1
    "intvl = 10\n"          // 2
    "cnt = 6\n"             // 3
    "[program php-fpm*]\n"  // 4
    "idle = 30\n"           // 5
    "[program php*, !x]\n"  // 6
    "idle = 20\n"           // 7
    "intvl = 5\n"           // 8
    "[program python3]\n"   // 9
    "cnt = 2\n";            // 10

TEST(ConfigFile, TheFirstMatchingSectionWinsOverTheGlobalPart) {
  Parsed fpm = run(kSections, {}, "php-fpm8.2");
  ASSERT_TRUE(fpm.config.active) << fpm.config.error.view();
  EXPECT_EQ(fpm.config.idle_s.value, 30);
  EXPECT_EQ(fpm.config.idle_s.line, 5);
  EXPECT_EQ(fpm.config.intvl_s.value, 5) << "a later matching section sets what earlier ones leave";
  EXPECT_EQ(fpm.config.intvl_s.line, 8);
  EXPECT_EQ(fpm.config.cnt.value, 6);
  EXPECT_EQ(fpm.config.cnt.line, 3);

  Parsed php = run(kSections, {}, "php");
  EXPECT_EQ(php.config.idle_s.value, 20);
  Parsed other = run(kSections, {}, "curl");
  EXPECT_EQ(other.config.idle_s.value, 60);
  EXPECT_EQ(other.config.cnt.value, 6);
  Parsed by_argv0 = run(kSections, {}, "app", "python3");
  EXPECT_EQ(by_argv0.config.cnt.value, 2) << "argv[0]'s name selects sections too";
}

TEST(ConfigFile, AVariableWinsOverASection) {
  Parsed result = run(kSections, {{"KASHIM_IDLE", "7"}}, "php-fpm");
  EXPECT_EQ(result.config.idle_s.value, 7);
}

TEST(ConfigFile, WithoutAProgramOnlyTheGlobalPartApplies) {
  Parsed result = run(kSections);  // a route acting for no particular program
  EXPECT_EQ(result.config.idle_s.value, 60);
  EXPECT_FALSE(result.config.out_of_scope);
}

TEST(ConfigFile, ASectionCanBeChosenByNumber) {
  FakeSources fake;
  ConfigFile file;
  file.path = "/etc/kashim.conf";
  parse_config_file(kSections, nullptr, &file, 2);
  EXPECT_EQ(file.sections, 3);
  ASSERT_NE(file.find_variable("KASHIM_IDLE"), nullptr);
  EXPECT_EQ(file.find_variable("KASHIM_IDLE")->value, "20");
  EXPECT_EQ(file.find_variable("KASHIM_CNT")->value, "6");
  EXPECT_EQ(file.find_variable("KEEPIDLE"), nullptr) << "libkeepalive's names have no key";
  EXPECT_EQ(file.find_variable("KASHIM_PEERS"), nullptr);
}

TEST(ConfigFile, ReportShowsWhereEachValueCameFrom) {
  Parsed result = run(kSections, {{"KASHIM_CNT", "3"}}, "php-fpm8.2");
  EXPECT_NE(result.report.find("\n  file              /etc/kashim.conf\n"), std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("TCP_KEEPIDLE      30s  from /etc/kashim.conf:5\n"),
            std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("TCP_KEEPCNT       3  from KASHIM_CNT\n"), std::string::npos);
  EXPECT_NE(result.report.find("mode              force: the program's own settings are "
                               "replaced  (default)\n"),
            std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("programs          every program  (default)\n"), std::string::npos);
  EXPECT_NE(result.report.find("this program      php-fpm8.2: in scope\n"), std::string::npos)
      << result.report;
}

TEST(ConfigFileErrors, ABadValueNamesFileLineKeyAndTheAcceptedForms) {
  EXPECT_EQ(error_of("# x\nintvl = 5\nidle = soon\n"),
            "/etc/kashim.conf:3: idle = soon is not a duration (accepted: 1s..32767s, a whole "
            "number with an optional unit ms, s, m or h; no unit means seconds); keep-alive "
            "settings not applied");
  EXPECT_EQ(error_of("peers = 10.0.0.0/33\n"),
            "/etc/kashim.conf:1: peers pattern \"10.0.0.0/33\" has a prefix that is not /0 to "
            "/32 (" +
                std::string(kPeerPatternForms) + "); keep-alive settings not applied");
  EXPECT_EQ(error_of("check = 1\n"),
            "/etc/kashim.conf:1: unknown key \"check\" (accepted: idle, intvl, cnt, "
            "user_timeout, mode, peers, direction, log, log_file, disable, programs); "
            "keep-alive settings not applied");
}

TEST(ConfigFileErrors, Syntax) {
  EXPECT_EQ(error_of("idle 60\n"),
            "/etc/kashim.conf:1: \"idle 60\" is not a setting (accepted: KEY = VALUE, "
            "[program GLOB,...] or a # comment); keep-alive settings not applied");
  EXPECT_EQ(error_of("[programs php]\n"),
            "/etc/kashim.conf:1: \"[programs php]\" is not a section (accepted: [program "
            "GLOB,...], e.g. [program php-fpm*]); keep-alive settings not applied");
  EXPECT_NE(error_of("[program ]\n").find(":1: \"[program ]\" is not a section"),
            std::string::npos);
  EXPECT_NE(error_of("[program php\n").find(":1: \"[program php\" is not a section"),
            std::string::npos);
  EXPECT_EQ(error_of("[program php[5-]\n"),
            "/etc/kashim.conf:1: program \"php[5-\" opens [ without closing it (" +
                std::string(kProgramListForms) + "); keep-alive settings not applied");
  EXPECT_EQ(error_of("idle = 1\ncnt = 2\nidle = 3\n"),
            "/etc/kashim.conf:3: idle is set again (first on line 1; accepted: each key once "
            "before the sections and once in each section); keep-alive settings not applied");
  EXPECT_NE(error_of("[program a]\nprograms = *\n")
                .find(":2: programs is accepted only before the first [program ...] section"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("idle = 6\0", 9) + "0\n").find(":1: contains a NUL byte"),
            std::string::npos);
}

TEST(ConfigFileErrors, ABadValueInAnySectionIsAnErrorForEveryProgramInScope) {
  constexpr const char* kFile =
      "programs = !ssh*, *\nidle = 60\n[program php*]\ncnt = 0\n[program x]\nuser_timeout = auto\n";
  std::string expected =
      "/etc/kashim.conf:4: cnt = 0 is out of range 1..127; keep-alive settings not applied";
  Parsed curl = run(kFile, {}, "curl");
  EXPECT_FALSE(curl.config.active) << "the mistake concerns php, but the file is wrong for all";
  EXPECT_EQ(curl.config.error.view(), expected);
  EXPECT_EQ(run(kFile, {}, "php").config.error.view(), expected);
  Parsed ssh = run(kFile, {}, "sshd");
  EXPECT_TRUE(ssh.config.error.empty()) << "an excluded program is left alone";
  Parsed masked = run(kFile, {{"KASHIM_CNT", "5"}}, "curl");
  EXPECT_TRUE(masked.config.active)
      << "a variable wins over every section: " << masked.config.error.view();
}

TEST(ConfigFileErrors, CheckingSectionsNeedsNoSysctl) {
  FakeSources fake;
  fake.sysctl_readable = false;
  fake.file_text = "idle = 60\nintvl = 5\ncnt = 3\n[program x]\nuser_timeout = auto\n";
  fake.executable = "curl";
  Config config = fake.parse();
  EXPECT_TRUE(config.active) << config.error.view();
}

TEST(ConfigFileErrors, SectionsOfOtherProgramsAreCheckedForSyntax) {
  EXPECT_NE(error_of("[program nomatch]\nidel = 3\n").find(":2: unknown key \"idel\""),
            std::string::npos);
}

TEST(ConfigFileErrors, KeysRepeatedInDifferentPartsAreFine) {
  EXPECT_TRUE(run("idle = 1\n[program a]\nidle = 2\n[program b]\nidle = 3\n").config.active);
}

TEST(ConfigFileErrors, LogSettingsOfTheEnvironmentStillApply) {
  Parsed result = run("idle = x\n", {{"KASHIM_LOG", "off"}}, "app");
  EXPECT_FALSE(result.config.active);
  EXPECT_EQ(result.config.log_level, LogLevel::kOff);
  Parsed broken = run("idle x\nlog = off\n", {}, "app");
  EXPECT_EQ(broken.config.log_level, LogLevel::kError) << "a broken file contributes nothing";
}

TEST(ConfigFileErrors, AFileErrorFromReadingIsReportedAsIs) {
  FakeSources fake;
  Sources sources = fake.sources();
  ConfigFile file;
  file.path = "/etc/kashim.conf";
  file.error.add("/etc/kashim.conf: refused, it is writable by others (mode 0666; ...)");
  sources.file = &file;
  Config config;
  parse_config(sources, &config);
  EXPECT_FALSE(config.active);
  EXPECT_EQ(config.error.view(),
            "/etc/kashim.conf: refused, it is writable by others (mode 0666; ...); keep-alive "
            "settings not applied");
}

TEST(ConfigFileScope, ProgramsOutOfScopeGetNothingAndNoErrorLine) {
  constexpr const char* kFile = "programs = !ssh*, php*\nidle = x\n";
  Parsed ssh = run(kFile, {}, "ssh");
  EXPECT_TRUE(ssh.config.out_of_scope);
  EXPECT_FALSE(ssh.config.active);
  EXPECT_TRUE(ssh.config.error.empty()) << "an excluded program must not even see errors";
  EXPECT_EQ(ssh.config.scope, ProgramVerdict::kExcluded);
  EXPECT_NE(ssh.report.find("program not in scope, shim inactive\n"), std::string::npos);
  EXPECT_NE(ssh.report.find("this program      ssh: not in scope, excluded by \"!ssh*\""),
            std::string::npos)
      << ssh.report;
  Parsed ls = run(kFile, {}, "ls");
  EXPECT_TRUE(ls.config.out_of_scope);
  EXPECT_EQ(ls.config.scope, ProgramVerdict::kUnmatched);
  Parsed php = run(kFile, {}, "php");
  EXPECT_FALSE(php.config.out_of_scope);
  EXPECT_NE(php.config.error.view().find(":2: idle = x"), std::string_view::npos);
}

TEST(ConfigFileScope, TheVariableWinsOverTheFilesList) {
  Parsed result = run("programs = !curl\nidle = 9\n", {{"KASHIM_PROGRAMS", "curl"}}, "curl");
  ASSERT_TRUE(result.config.active);
  EXPECT_EQ(result.config.idle_s.value, 9);
  EXPECT_NE(result.report.find("programs          curl  from KASHIM_PROGRAMS\n"), std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("this program      curl: in scope (\"curl\")\n"), std::string::npos)
      << result.report;
}

TEST(ConfigFileScope, ABadListIsAnErrorForEveryProgram) {
  FakeSources fake;
  fake.environment = {{"KASHIM_PROGRAMS", "php, /usr/bin/ssh"}};
  fake.executable = "ssh";
  Config config = fake.parse();
  EXPECT_FALSE(config.active);
  EXPECT_EQ(config.error.view(),
            "KASHIM_PROGRAMS program \"/usr/bin/ssh\" contains / (a program is matched by its "
            "name, not its path) (" +
                std::string(kProgramListForms) + "); keep-alive settings not applied");
}

TEST(ConfigFileScope, WithoutANameTheScopeIsLeftToTheRoute) {
  FakeSources fake;
  fake.environment = {{"KASHIM_PROGRAMS", "php*"}};
  Config config = fake.parse();
  EXPECT_TRUE(config.active);
  EXPECT_FALSE(config.out_of_scope);
  EXPECT_STREQ(config.programs, "php*");
  EXPECT_TRUE(config.scope_program.empty());
}

// A route acting for a tree of processes (the supervisor) decides per process exactly when
// another program could get another configuration: a scope, or a [program] section.
TEST(ConfigFile, WhetherTheConfigurationVariesByProgram) {
  FakeSources plain;
  plain.environment = {{"KASHIM_IDLE", "60"}};
  plain.file_text = "intvl = 10\n";
  EXPECT_FALSE(varies_by_program(plain.parse()));
  FakeSources scoped = plain;
  scoped.environment["KASHIM_PROGRAMS"] = "php*";
  EXPECT_TRUE(varies_by_program(scoped.parse()));
  // Decided for a program left out too: another may be in.
  scoped.executable = scoped.invoked = "bash";
  const Config left_out = scoped.parse();
  EXPECT_TRUE(left_out.out_of_scope);
  EXPECT_TRUE(varies_by_program(left_out));
  FakeSources sectioned = plain;
  sectioned.file_text = "intvl = 10\n[program php*]\nidle = 30\n";
  EXPECT_TRUE(varies_by_program(sectioned.parse()));
}

}  // namespace
}  // namespace kashim
