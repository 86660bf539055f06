#include "config.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_sources.hpp"

namespace kashim {
namespace {

using testing::FakeSources;

Config parse(std::map<std::string, std::string> environment) {
  FakeSources fake;
  fake.environment = std::move(environment);
  return fake.parse();
}

std::string error_of(std::map<std::string, std::string> environment) {
  Config config = parse(std::move(environment));
  EXPECT_FALSE(config.active) << "an error must leave the shim inert";
  return std::string(config.error.view());
}

TEST(Config, EmptyEnvironmentIsActiveWithKeepaliveOnlyAndDefaults) {
  Config config = parse({});
  EXPECT_TRUE(config.active);
  EXPECT_FALSE(config.disabled);
  EXPECT_FALSE(config.idle_s.set);
  EXPECT_FALSE(config.intvl_s.set);
  EXPECT_FALSE(config.cnt.set);
  EXPECT_FALSE(config.user_timeout_ms.set);
  EXPECT_EQ(config.mode, Mode::kForce);
  EXPECT_EQ(config.log_level, LogLevel::kError);
  EXPECT_STREQ(config.log_file, "");
  EXPECT_TRUE(config.error.empty());
}

TEST(Config, ZeroFilledConfigHasTheDefaults) {
  // The run-time slots live in .bss and are zero before parsing: that must mean "inactive,
  // log errors, force".
  Config config{};
  EXPECT_FALSE(config.active);
  EXPECT_EQ(config.log_level, LogLevel::kError);
  EXPECT_EQ(config.mode, Mode::kForce);
}

TEST(Config, ReadsEveryVariable) {
  Config config = parse({{"KASHIM_IDLE", "60"},
                         {"KASHIM_INTVL", "10"},
                         {"KASHIM_CNT", "6"},
                         {"KASHIM_USER_TIMEOUT", "90s"},
                         {"KASHIM_MODE", "fallback"},
                         {"KASHIM_LOG", "info"},
                         {"KASHIM_LOG_FILE", "/var/log/kashim.log"}});
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.idle_s.value, 60);
  EXPECT_STREQ(config.idle_s.source, "KASHIM_IDLE");
  EXPECT_EQ(config.intvl_s.value, 10);
  EXPECT_EQ(config.cnt.value, 6);
  EXPECT_TRUE(config.user_timeout_ms.set);
  EXPECT_EQ(config.user_timeout_ms.value, 90000);
  EXPECT_EQ(config.mode, Mode::kFallback);
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_STREQ(config.log_file, "/var/log/kashim.log");
}

struct DurationCase {
  const char* text;
  std::int64_t milliseconds;
};

class DurationUnits : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationUnits, Parse) {
  std::int64_t ms = -1;
  ASSERT_TRUE(parse_duration_ms(GetParam().text, &ms)) << GetParam().text;
  EXPECT_EQ(ms, GetParam().milliseconds);
}

INSTANTIATE_TEST_SUITE_P(Config, DurationUnits,
                         ::testing::Values(DurationCase{"0", 0}, DurationCase{"7", 7000},
                                           DurationCase{"7s", 7000}, DurationCase{"7ms", 7},
                                           DurationCase{"2m", 120000}, DurationCase{"1h", 3600000},
                                           DurationCase{"0007", 7000},
                                           DurationCase{"99999999999999999999999", INT64_MAX},
                                           DurationCase{"9999999999999999h", INT64_MAX}));

class MalformedDurations : public ::testing::TestWithParam<const char*> {};

TEST_P(MalformedDurations, Rejected) {
  std::int64_t ms = 0;
  EXPECT_FALSE(parse_duration_ms(GetParam(), &ms)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Config, MalformedDurations,
                         ::testing::Values("", "s", "-1", "+1", "1.5", "1.5s", "1 s", "1S", "1sec",
                                           "1d", "ms", "1ms5", "0x10", "1e3", "\xd9\xa1"));

TEST(Config, SecondsOptionsAcceptUnitsThatGiveWholeSeconds) {
  Config config = parse({{"KASHIM_IDLE", "2m"}, {"KASHIM_INTVL", "3000ms"}});
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.idle_s.value, 120);
  EXPECT_EQ(config.intvl_s.value, 3);
}

TEST(Config, SecondsOptionsBounds) {
  EXPECT_TRUE(parse({{"KASHIM_IDLE", "1"}}).active);
  EXPECT_TRUE(parse({{"KASHIM_IDLE", "32767"}}).active);
  EXPECT_TRUE(parse({{"KASHIM_INTVL", "32767s"}}).active);
  EXPECT_EQ(error_of({{"KASHIM_IDLE", "0"}}),
            "KASHIM_IDLE=0 is out of range 1s..32767s; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_IDLE", "32768"}}),
            "KASHIM_IDLE=32768 is out of range 1s..32767s; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_INTVL", "10h"}}),
            "KASHIM_INTVL=10h is out of range 1s..32767s; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_IDLE", "500ms"}}),
            "KASHIM_IDLE=500ms is out of range 1s..32767s; keep-alive settings not applied");
}

TEST(Config, SecondsOptionsRefuseFractionsOfASecond) {
  EXPECT_EQ(error_of({{"KASHIM_IDLE", "1500ms"}}),
            "KASHIM_IDLE=1500ms is not a whole number of seconds (accepted: 1s..32767s); "
            "keep-alive settings not applied");
}

TEST(Config, GarbageDurationNamesTheVariableTheValueAndTheForms) {
  EXPECT_EQ(error_of({{"KASHIM_INTVL", "ten"}}),
            "KASHIM_INTVL=ten is not a duration (accepted: 1s..32767s, a whole number with an "
            "optional unit ms, s, m or h; no unit means seconds); keep-alive settings not "
            "applied");
}

TEST(Config, OverflowIsOutOfRangeNotGarbage) {
  EXPECT_EQ(error_of({{"KASHIM_IDLE", "99999999999999999999999"}}),
            "KASHIM_IDLE=99999999999999999999999 is out of range 1s..32767s; keep-alive "
            "settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_CNT", "99999999999999999999999"}}),
            "KASHIM_CNT=99999999999999999999999 is out of range 1..127; keep-alive settings "
            "not applied");
}

TEST(Config, CountBoundsAndForm) {
  EXPECT_EQ(parse({{"KASHIM_CNT", "1"}}).cnt.value, 1);
  EXPECT_EQ(parse({{"KASHIM_CNT", "127"}}).cnt.value, 127);
  EXPECT_EQ(error_of({{"KASHIM_CNT", "500"}}),
            "KASHIM_CNT=500 is out of range 1..127; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_CNT", "0"}}),
            "KASHIM_CNT=0 is out of range 1..127; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_CNT", "3s"}}),
            "KASHIM_CNT=3s is not a whole number (accepted: 1..127); keep-alive settings not "
            "applied");
  EXPECT_EQ(error_of({{"KASHIM_CNT", "-3"}}),
            "KASHIM_CNT=-3 is not a whole number (accepted: 1..127); keep-alive settings not "
            "applied");
}

TEST(Config, SurroundingWhitespaceIsIgnored) {
  Config config =
      parse({{"KASHIM_IDLE", " 30 "}, {"KASHIM_CNT", "\t4\n"}, {"KASHIM_MODE", " fallback"}});
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.idle_s.value, 30);
  EXPECT_EQ(config.cnt.value, 4);
  EXPECT_EQ(config.mode, Mode::kFallback);
}

TEST(Config, WhitespaceInsideAValueIsAnError) {
  EXPECT_FALSE(parse({{"KASHIM_IDLE", "3 0"}}).active);
  EXPECT_FALSE(parse({{"KASHIM_IDLE", "30 s"}}).active);
}

TEST(Config, EmptyOrBlankMeansUnset) {
  Config config = parse({{"KASHIM_IDLE", ""}, {"KASHIM_CNT", "   "}, {"KASHIM_LOG", ""}});
  EXPECT_TRUE(config.active);
  EXPECT_FALSE(config.idle_s.set);
  EXPECT_FALSE(config.cnt.set);
  EXPECT_EQ(config.log_level, LogLevel::kError);
}

TEST(Config, UserTimeoutForms) {
  EXPECT_EQ(parse({{"KASHIM_USER_TIMEOUT", "1500ms"}}).user_timeout_ms.value, 1500);
  EXPECT_EQ(parse({{"KASHIM_USER_TIMEOUT", "90"}}).user_timeout_ms.value, 90000);
  Config zero = parse({{"KASHIM_USER_TIMEOUT", "0"}});
  EXPECT_TRUE(zero.user_timeout_ms.set) << "0 is applied: it restores the kernel's default";
  EXPECT_EQ(zero.user_timeout_ms.value, 0);
  EXPECT_EQ(parse({{"KASHIM_USER_TIMEOUT", "2147483647ms"}}).user_timeout_ms.value, 2147483647);
  EXPECT_EQ(error_of({{"KASHIM_USER_TIMEOUT", "2147483648ms"}}),
            "KASHIM_USER_TIMEOUT=2147483648ms is out of range 0..2147483647ms; keep-alive "
            "settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_USER_TIMEOUT", "soon"}}),
            "KASHIM_USER_TIMEOUT=soon is not a duration (accepted: auto, 0 for the kernel's "
            "default, or a whole number with an optional unit ms, s, m or h; no unit means "
            "seconds); keep-alive settings not applied");
}

TEST(Config, AutoUserTimeoutFromConfiguredValues) {
  FakeSources fake;
  fake.sysctls.clear();  // must not be needed when all three parts are set
  fake.environment = {{"KASHIM_IDLE", "60"},
                      {"KASHIM_INTVL", "10"},
                      {"KASHIM_CNT", "6"},
                      {"KASHIM_USER_TIMEOUT", "auto"}};
  Config config = fake.parse();
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_TRUE(config.user_timeout_auto);
  EXPECT_EQ(config.user_timeout_ms.value, (60 + 10 * 6) * 1000);
}

TEST(Config, AutoUserTimeoutTakesTheKernelsValuesForTheUnsetParts) {
  FakeSources fake;
  fake.sysctls = {
      {"tcp_keepalive_time", 100}, {"tcp_keepalive_intvl", 7}, {"tcp_keepalive_probes", 4}};
  fake.environment = {{"KASHIM_INTVL", "2"}, {"KASHIM_USER_TIMEOUT", "AUTO"}};
  Config config = fake.parse();
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_EQ(config.user_timeout_ms.value, (100 + 2 * 4) * 1000);
}

TEST(Config, AutoUserTimeoutWithoutReadableSysctlIsAnError) {
  FakeSources fake;
  fake.sysctls.erase("tcp_keepalive_probes");
  fake.environment = {{"KASHIM_IDLE", "5"}, {"KASHIM_INTVL", "1"}, {"KASHIM_USER_TIMEOUT", "auto"}};
  Config config = fake.parse();
  EXPECT_FALSE(config.active);
  EXPECT_EQ(config.error.view(),
            "KASHIM_USER_TIMEOUT=auto needs net.ipv4.tcp_keepalive_probes, which cannot be read "
            "(set KASHIM_IDLE, KASHIM_INTVL and KASHIM_CNT); keep-alive settings not applied");
}

TEST(Config, AutoUserTimeoutAboveTheKernelLimitIsAnError) {
  Config config = parse({{"KASHIM_IDLE", "32767"},
                         {"KASHIM_INTVL", "32767"},
                         {"KASHIM_CNT", "127"},
                         {"KASHIM_USER_TIMEOUT", "auto"}});
  EXPECT_FALSE(config.active);
  EXPECT_EQ(config.error.view(),
            "KASHIM_USER_TIMEOUT=auto gives 4194176000ms, out of range 0..2147483647ms; "
            "keep-alive settings not applied");
}

TEST(Config, ModeAndLogKeywordsIgnoreCase) {
  EXPECT_EQ(parse({{"KASHIM_MODE", "FORCE"}}).mode, Mode::kForce);
  EXPECT_EQ(parse({{"KASHIM_LOG", "Debug"}}).log_level, LogLevel::kDebug);
  EXPECT_EQ(parse({{"KASHIM_LOG", "off"}}).log_level, LogLevel::kOff);
  EXPECT_EQ(error_of({{"KASHIM_MODE", "always"}}),
            "KASHIM_MODE=always is not a mode (accepted: force, fallback); keep-alive settings "
            "not applied");
  EXPECT_EQ(error_of({{"KASHIM_LOG", "loud"}}),
            "KASHIM_LOG=loud is not a log level (accepted: off, error, info, debug); keep-alive "
            "settings not applied");
}

TEST(Config, LogFileMustBeAnAbsolutePathThatFits) {
  EXPECT_EQ(error_of({{"KASHIM_LOG_FILE", "kashim.log"}}),
            "KASHIM_LOG_FILE=kashim.log is not an absolute path (accepted: a path starting with "
            "/); keep-alive settings not applied");
  std::string long_path = "/" + std::string(4095, 'a');
  Config config = parse({{"KASHIM_LOG_FILE", long_path}});
  EXPECT_FALSE(config.active);
  EXPECT_NE(config.error.view().find("is too long"), std::string_view::npos);
  EXPECT_NE(config.error.view().find("aaaa..."), std::string_view::npos)
      << "long values are shown cut short: " << config.error.view();
  std::string longest = "/" + std::string(4094, 'a');
  EXPECT_STREQ(parse({{"KASHIM_LOG_FILE", longest}}).log_file, longest.c_str());
}

// They are links, which the log file's O_NOFOLLOW would refuse: every line would be lost
// while --check said "to /dev/stderr".
TEST(Config, StandardErrorsOwnNamesAsTheLogFileMeanStderr) {
  for (const char* name : {"/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"}) {
    Config config = parse({{"KASHIM_LOG_FILE", name}});
    EXPECT_TRUE(config.active) << name;
    EXPECT_STREQ(config.log_file, "") << name;
  }
  EXPECT_STREQ(parse({{"KASHIM_LOG_FILE", "/dev/stderr2"}}).log_file, "/dev/stderr2");
}

TEST(Config, DisableSwitch) {
  Config disabled = parse({{"KASHIM_DISABLE", "1"}, {"KASHIM_CNT", "500"}});
  EXPECT_FALSE(disabled.active);
  EXPECT_TRUE(disabled.disabled);
  EXPECT_TRUE(disabled.error.empty()) << "a disabled shim validates nothing further";
  EXPECT_TRUE(parse({{"KASHIM_DISABLE", "0"}}).active);
  EXPECT_EQ(error_of({{"KASHIM_DISABLE", "yes"}}),
            "KASHIM_DISABLE=yes is not 0 or 1 (accepted: 1 to disable the shim, 0 to enable "
            "it); keep-alive settings not applied");
}

TEST(Config, LibkeepaliveVariablesAreHonouredWhenKashimOnesAreUnset) {
  Config config = parse({{"KEEPIDLE", "45"}, {"KEEPINTVL", "15"}, {"KEEPCNT", "5"}});
  ASSERT_TRUE(config.active);
  EXPECT_EQ(config.idle_s.value, 45);
  EXPECT_STREQ(config.idle_s.source, "KEEPIDLE");
  EXPECT_EQ(config.intvl_s.value, 15);
  EXPECT_EQ(config.cnt.value, 5);
  EXPECT_STREQ(config.cnt.source, "KEEPCNT");
}

TEST(Config, KashimVariablesTakePrecedenceOverLibkeepalives) {
  Config config = parse(
      {{"KEEPIDLE", "45"}, {"KASHIM_IDLE", "30"}, {"KEEPCNT", "nonsense"}, {"KASHIM_CNT", "3"}});
  ASSERT_TRUE(config.active) << "an overridden alias is not read: " << config.error.view();
  EXPECT_EQ(config.idle_s.value, 30);
  EXPECT_STREQ(config.idle_s.source, "KASHIM_IDLE");
  EXPECT_EQ(config.cnt.value, 3);
}

TEST(Config, LibkeepaliveErrorsNameItsVariable) {
  EXPECT_EQ(error_of({{"KEEPCNT", "500"}}),
            "KEEPCNT=500 is out of range 1..127; keep-alive settings not applied");
}

TEST(Config, LibkeepaliveSwitch) {
  EXPECT_TRUE(parse({{"KEEPALIVE", "off"}}).disabled);
  EXPECT_TRUE(parse({{"KEEPALIVE", "OFF"}}).disabled);
  EXPECT_TRUE(parse({{"KEEPALIVE", "on"}}).active);
  EXPECT_FALSE(parse({{"KEEPALIVE", "maybe"}}).active);
  Config kashim_wins = parse({{"KEEPALIVE", "off"}, {"KASHIM_DISABLE", "0"}});
  EXPECT_TRUE(kashim_wins.active);
}

TEST(Config, ReportsOnlyTheFirstError) {
  std::string error = error_of({{"KASHIM_IDLE", "x"}, {"KASHIM_CNT", "500"}});
  EXPECT_NE(error.find("KASHIM_IDLE=x"), std::string::npos);
  EXPECT_EQ(error.find("KASHIM_CNT"), std::string::npos);
}

TEST(Config, LogSettingsParsedEvenWhenALaterValueIsBad) {
  Config config =
      parse({{"KASHIM_LOG", "off"}, {"KASHIM_LOG_FILE", "/tmp/k.log"}, {"KASHIM_CNT", "x"}});
  EXPECT_FALSE(config.active);
  EXPECT_EQ(config.log_level, LogLevel::kOff);
  EXPECT_STREQ(config.log_file, "/tmp/k.log");
}

TEST(Config, UnprintableBytesInValuesAreMasked) {
  std::string error = error_of({{"KASHIM_MODE", "a\x1b[31mb\xff"}});
  EXPECT_EQ(error.rfind("KASHIM_MODE=a?[31mb? is not a mode", 0), 0u) << error;
}

TEST(Config, CheckFlag) {
  EXPECT_TRUE(parse({{"KASHIM_CHECK", "1"}}).check);
  EXPECT_FALSE(parse({{"KASHIM_CHECK", "0"}}).check);
  EXPECT_FALSE(parse({}).check);
}

// The report is asked for whatever else is wrong: the log settings are read before
// everything else, and an error in them used to end the parse before KASHIM_CHECK.
TEST(Config, CheckIsReadEvenWhenALogSettingIsInvalid) {
  for (const char* name : {"KASHIM_LOG", "KASHIM_LOG_FILE"}) {
    Config config = parse({{"KASHIM_CHECK", "1"}, {name, "loud"}});
    EXPECT_TRUE(config.check) << name;
    EXPECT_FALSE(config.active);
    EXPECT_EQ(config.error.view().rfind(std::string(name) + "=loud ", 0), 0u)
        << config.error.view();
  }
}

TEST(Config, CheckAcceptsOnlyZeroOrOneLikeEveryOtherSwitch) {
  for (const char* value : {"yes", "true", "2", "on"}) {
    EXPECT_EQ(error_of({{"KASHIM_CHECK", value}}),
              "KASHIM_CHECK=" + std::string(value) +
                  " is not 0 or 1 (accepted: 1 to print the configuration report, 0 not to); "
                  "keep-alive settings not applied");
  }
}

TEST(Config, BoundsInMessagesComeFromTheConstants) {
  std::string idle_max = std::to_string(kMaxKeepIdleSeconds);
  EXPECT_EQ(error_of({{"KASHIM_IDLE", std::to_string(kMaxKeepIdleSeconds + 1)}}),
            "KASHIM_IDLE=" + std::to_string(kMaxKeepIdleSeconds + 1) + " is out of range 1s.." +
                idle_max + "s; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_INTVL", std::to_string(kMaxKeepIntvlSeconds + 1)}}),
            "KASHIM_INTVL=" + std::to_string(kMaxKeepIntvlSeconds + 1) + " is out of range 1s.." +
                std::to_string(kMaxKeepIntvlSeconds) + "s; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_CNT", std::to_string(kMaxKeepCnt + 1)}}),
            "KASHIM_CNT=" + std::to_string(kMaxKeepCnt + 1) + " is out of range 1.." +
                std::to_string(kMaxKeepCnt) + "; keep-alive settings not applied");
  EXPECT_EQ(error_of({{"KASHIM_USER_TIMEOUT", std::to_string(kMaxUserTimeoutMs + 1) + "ms"}}),
            "KASHIM_USER_TIMEOUT=" + std::to_string(kMaxUserTimeoutMs + 1) +
                "ms is out of range 0.." + std::to_string(kMaxUserTimeoutMs) +
                "ms; keep-alive settings not applied");
  EXPECT_NE(error_of({{"KASHIM_LOG_FILE", "/" + std::string(kMaxLogPath, 'x')}})
                .find("at most " + std::to_string(kMaxLogPath - 1) + " bytes"),
            std::string::npos);
}

TEST(Config, PeersAreAListOfPatterns) {
  Config config = parse({{"KASHIM_PEERS", " 10.0.0.0/8 ,[::1]:6379,,*:5432, "}});
  ASSERT_TRUE(config.active) << config.error.view();
  EXPECT_TRUE(config.selective);
  ASSERT_EQ(config.peers.count, 3) << "blanks and empty items are skipped";
  PatternText last;
  describe_peer_pattern(config.peers.patterns[2], &last);
  EXPECT_EQ(last.view(), "*:5432");
}

TEST(Config, NoPeersAndBothDirectionsTuneEverySocketAtCreation) {
  EXPECT_FALSE(parse({}).selective);
  EXPECT_FALSE(parse({{"KASHIM_PEERS", " , "}, {"KASHIM_DIRECTION", "both"}}).selective);
  EXPECT_EQ(parse({{"KASHIM_PEERS", ","}}).peers.count, 0);
}

TEST(Config, ABadPatternIsNamedWithTheAcceptedForms) {
  EXPECT_EQ(error_of({{"KASHIM_PEERS", "10.0.0.0/8, 10.0.0.0/33"}}),
            "KASHIM_PEERS pattern \"10.0.0.0/33\" has a prefix that is not /0 to /32 (accepted: "
            "comma-separated ADDRESS[/PREFIX][:PORT] or *:PORT, IPv6 in brackets when a port "
            "follows, e.g. 10.0.0.0/8, 192.0.2.7:5432, fd00::/8, [2001:db8::]/32:443, "
            "[::1]:6379, *:6379); keep-alive settings not applied");
  EXPECT_FALSE(parse({{"KASHIM_PEERS", "db.example.com:5432"}}).selective);
}

TEST(Config, AtMost32Patterns) {
  std::string many;
  for (int i = 0; i < 32; ++i) many += "10.0.0." + std::to_string(i) + ",";
  EXPECT_EQ(parse({{"KASHIM_PEERS", many}}).peers.count, 32);
  std::string error = error_of({{"KASHIM_PEERS", many + "10.0.1.0"}});
  EXPECT_TRUE(error.starts_with("KASHIM_PEERS=10.0.0.0,10.0.0.1,")) << error;
  EXPECT_TRUE(
      error.ends_with(" has more than 32 patterns (accepted: at most 32); keep-alive "
                      "settings not applied"))
      << error;
}

TEST(Config, Direction) {
  EXPECT_EQ(parse({}).direction, Direction::kBoth);
  Config out = parse({{"KASHIM_DIRECTION", "OUT"}});
  EXPECT_EQ(out.direction, Direction::kOut);
  EXPECT_TRUE(out.selective);
  EXPECT_EQ(parse({{"KASHIM_DIRECTION", "in"}}).direction, Direction::kIn);
  EXPECT_EQ(error_of({{"KASHIM_DIRECTION", "inbound"}}),
            "KASHIM_DIRECTION=inbound is not a direction (accepted: out, in, both); keep-alive "
            "settings not applied");
}

TEST(Config, ParsingTwiceGivesTheSameResult) {
  // The run-time reuses a slot only once, but parse_config must reset whatever it is given.
  FakeSources fake;
  fake.environment = {{"KASHIM_CNT", "500"}};
  Config config;
  parse_config(fake.sources(), &config);
  fake.environment = {{"KASHIM_CNT", "5"}};
  parse_config(fake.sources(), &config);
  EXPECT_TRUE(config.active);
  EXPECT_TRUE(config.error.empty());
}

TEST(ConfigReport, ShowsEveryValueAndItsSource) {
  FakeSources fake;
  fake.environment = {{"KASHIM_IDLE", "30"}, {"KEEPCNT", "4"}, {"KASHIM_USER_TIMEOUT", "auto"}};
  Config config = fake.parse();
  Report report;
  describe_config(config, fake.sources(), &report);
  std::string text(report.view());
  EXPECT_NE(text.find("kashim " KASHIM_VERSION ": configuration valid, shim active"),
            std::string::npos);
  EXPECT_NE(text.find("TCP_KEEPIDLE      30s  from KASHIM_IDLE"), std::string::npos) << text;
  EXPECT_NE(text.find("TCP_KEEPINTVL     not set: the program's or the kernel's "
                      "(net.ipv4.tcp_keepalive_intvl = 75s)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("TCP_KEEPCNT       4  from KEEPCNT"), std::string::npos) << text;
  EXPECT_NE(text.find("TCP_USER_TIMEOUT  330000ms  from KASHIM_USER_TIMEOUT"), std::string::npos)
      << text;
  EXPECT_NE(text.find("mode              force"), std::string::npos) << text;
  EXPECT_NE(text.find("direction         both"), std::string::npos) << text;
  EXPECT_NE(text.find("peers             any  (default)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("log               error  (default), to stderr  (default)\n"),
            std::string::npos)
      << text;
}

TEST(ConfigReport, ShowsPeersAsParsed) {
  FakeSources fake;
  fake.environment = {{"KASHIM_PEERS", "10.1.2.3/8,[::ffff:192.0.2.7]:22"},
                      {"KASHIM_DIRECTION", "out"}};
  Config config = fake.parse();
  Report report;
  describe_config(config, fake.sources(), &report);
  std::string text(report.view());
  EXPECT_NE(text.find("  direction         out: connections opened"), std::string::npos) << text;
  EXPECT_NE(text.find("  peers             10.0.0.0/8, 192.0.2.7:22  from KASHIM_PEERS\n"),
            std::string::npos)
      << text;
}

TEST(ConfigReport, ShowsTheErrorWhenInvalid) {
  FakeSources fake;
  fake.environment = {{"KASHIM_CNT", "500"}};
  Config config = fake.parse();
  Report report;
  describe_config(config, fake.sources(), &report);
  EXPECT_EQ(report.view(), "kashim " KASHIM_VERSION
                           ": configuration invalid, shim inactive\n  error: KASHIM_CNT=500 is "
                           "out of range 1..127; keep-alive settings not applied\n");
}

}  // namespace
}  // namespace kashim
