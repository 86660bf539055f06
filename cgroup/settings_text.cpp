// The settings map's value as one line of text, for `kashim cgroup status`: what the
// kernel program uses, read back from the map rather than from the caller's environment.
#include <string>

#include "decide.hpp"
#include "translate.hpp"

namespace kashim::cgroup {

namespace {

const char* direction_words(__u8 direction) {
  switch (direction) {
    case KASHIM_DIRECTION_OUT:
      return "out only";
    case KASHIM_DIRECTION_IN:
      return "in only";
    default:
      return "both directions";
  }
}

}  // namespace

std::string describe_bpf_settings(const kashim_settings& settings) {
  if (!settings.active) return "inactive (KASHIM_DISABLE=1): every socket left alone";
  std::string text = settings.mode == KASHIM_MODE_FALLBACK ? "fallback" : "force";
  text += ", ";
  text += direction_words(settings.direction);
  for (int i = 0; i < KASHIM_TCP_OPTIONS; ++i) {
    text += ", ";
    text += kManagedTcpOptions[i].label;  // tcp_value is in kManagedTcpOptions' order
    if (settings.tcp_set & KASHIM_BIT_TCP(i)) {
      text += ' ';
      text += std::to_string(settings.tcp_value[i]);
      text += kManagedTcpOptions[i].unit;
    } else {
      text += " unset";
    }
  }
  text += ", peers ";
  if (settings.peer_count == 0) text += "any";
  for (__u32 i = 0; i < settings.peer_count && i < KASHIM_MAX_PEERS; ++i) {
    PatternText pattern;
    describe_peer_pattern(to_peer_pattern(settings.peers[i]), &pattern);
    if (i > 0) text += ",";
    text += std::string(pattern.view());
  }
  return text;
}

}  // namespace kashim::cgroup
