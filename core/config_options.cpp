// The keep-alive values and the filters: durations, the count, the user timeout, the mode,
// the direction and the peer patterns, with messages whose bounds come from the constants.
#include <climits>

#include "config_parser.hpp"

namespace kashim::parsing {
namespace {

// "1s..32767s": a range of the bounds the kernel accepts, from the constants.
Problem seconds_range(int max_seconds) {
  Problem range;
  range.add("1s..").add(max_seconds).add("s");
  return range;
}

}  // namespace

bool Parser::parse_seconds(const Setting& setting, int max_seconds, ManagedOption* option) {
  if (!setting.present()) return true;
  std::int64_t ms = 0;
  Problem problem;
  if (!parse_duration_ms(setting.value, &ms)) {
    problem.add("is not a duration (accepted: ").add(seconds_range(max_seconds).view());
    problem.add(", a whole number with an optional unit ms, s, m or h; no unit means seconds)");
    return fail(setting, problem.view());
  }
  if (ms < 1000 || ms > std::int64_t{max_seconds} * 1000) {
    problem.add("is out of range ").add(seconds_range(max_seconds).view());
    return fail(setting, problem.view());
  }
  if (ms % 1000 != 0) {
    problem.add("is not a whole number of seconds (accepted: ");
    problem.add(seconds_range(max_seconds).view()).add(")");
    return fail(setting, problem.view());
  }
  *option = {true, static_cast<int>(ms / 1000), setting.name, setting.line};
  return true;
}

bool Parser::parse_count() {
  Setting setting = read("KASHIM_CNT", "KEEPCNT");
  if (!setting.present()) return true;
  std::int64_t count = 0;
  Problem problem;
  if (!parse_whole_number(setting.value, &count)) {
    problem.add("is not a whole number (accepted: 1..").add(kMaxKeepCnt).add(")");
    return fail(setting, problem.view());
  }
  if (count < 1 || count > kMaxKeepCnt) {
    return fail(setting, problem.add("is out of range 1..").add(kMaxKeepCnt).view());
  }
  config_.cnt = {true, static_cast<int>(count), setting.name, setting.line};
  return true;
}

Problem Parser::user_timeout_range() {
  Problem range;
  range.add("out of range 0..").add(kMaxUserTimeoutMs).add("ms");
  return range;
}

bool Parser::parse_user_timeout() {
  Setting setting = read("KASHIM_USER_TIMEOUT");
  if (!setting.present()) return true;
  std::int64_t ms = 0;
  if (equals_ignoring_case(setting.value, "auto")) {
    if (!auto_user_timeout(setting, &ms)) return false;
    config_.user_timeout_auto = true;
  } else if (!parse_duration_ms(setting.value, &ms)) {
    return fail(setting,
                "is not a duration (accepted: auto, 0 for the kernel's default, or a whole "
                "number with an optional unit ms, s, m or h; no unit means seconds)");
  } else if (ms > kMaxUserTimeoutMs) {
    Problem problem;
    return fail(setting, problem.add("is ").add(user_timeout_range().view()).view());
  }
  config_.user_timeout_ms = {true, static_cast<int>(ms), setting.name, setting.line};
  return true;
}

// idle + intvl x cnt: when the last unanswered probe would declare the peer dead.
bool Parser::auto_user_timeout(const Setting& setting, std::int64_t* ms) {
  static_assert(kManagedTcpOptions[0].optname == TCP_KEEPIDLE &&
                    kManagedTcpOptions[1].optname == TCP_KEEPINTVL &&
                    kManagedTcpOptions[2].optname == TCP_KEEPCNT,
                "idle, intvl and cnt come first");
  std::int64_t parts[3] = {};
  for (int i = 0; i < 3; ++i) {
    const ManagedTcpOption& managed = kManagedTcpOptions[i];
    const ManagedOption& option = config_.*managed.option;
    parts[i] = option.value;
    if (option.set) continue;
    if (!sources_.sysctl(managed.default_sysctl, &parts[i], sources_.context) || parts[i] < 0 ||
        parts[i] > INT_MAX) {
      Problem problem;
      problem.add("needs net.ipv4.").add(managed.default_sysctl);
      problem.add(", which cannot be read (set KASHIM_IDLE, KASHIM_INTVL and KASHIM_CNT)");
      return fail(setting, problem.view());
    }
  }
  *ms = (parts[0] + parts[1] * parts[2]) * 1000;
  if (*ms > kMaxUserTimeoutMs) {
    Problem problem;
    problem.add("gives ").add(*ms).add("ms, ").add(user_timeout_range().view());
    return fail(setting, problem.view());
  }
  return true;
}

bool Parser::parse_mode() {
  static constexpr Mode kModes[] = {Mode::kForce, Mode::kFallback};
  return parse_keyword("KASHIM_MODE", kModes, mode_name, "a mode", &config_.mode,
                       &config_.mode_from);
}

bool Parser::parse_direction() {
  static constexpr Direction kDirections[] = {Direction::kOut, Direction::kIn, Direction::kBoth};
  return parse_keyword("KASHIM_DIRECTION", kDirections, direction_name, "a direction",
                       &config_.direction, &config_.direction_from);
}

// Comma-separated; blanks around a pattern and empty items ("a,,b", a trailing comma
// from "$A,$B") are ignored, as an empty variable is.
bool Parser::parse_peers() {
  Setting setting = read("KASHIM_PEERS");
  std::string_view rest = setting.value;
  if (setting.present()) config_.peers_from = setting.origin();
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = trim(head(rest, comma));
    rest = comma == std::string_view::npos ? std::string_view() : tail(rest, comma + 1);
    if (item.empty()) continue;
    PeerFilter& peers = config_.peers;
    if (peers.count == kMaxPeerPatterns) {
      Problem problem;
      problem.add("has more than ").add(kMaxPeerPatterns).add(" patterns (accepted: at most ");
      return fail(setting, problem.add(kMaxPeerPatterns).add(")").view());
    }
    if (std::string_view problem = parse_peer_pattern(item, &peers.patterns[peers.count]);
        !problem.empty()) {
      start_error(setting, " ");
      config_.error.add("pattern \"").add_quoted_value(item).add("\" ");
      config_.error.add(problem).add(" (").add(kPeerPatternForms).add(")").add(kNotApplied);
      config_.active = false;
      return false;
    }
    ++peers.count;
  }
  return true;
}

}  // namespace kashim::parsing
