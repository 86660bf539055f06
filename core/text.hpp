// Fixed-capacity text building for messages the shim writes.
//
// No allocation, no locale, no stdio: the same code formats a configuration error in the
// constructor and a log line inside a hook that a signal handler called. Text that does not
// fit is cut short and ends in "...", never overflows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kashim {

// Pieces of a string_view. std::string_view::substr can throw, and nothing that throws may
// end up in the shim (it links without the C++ runtime); these clamp instead.
constexpr std::string_view head(std::string_view text, std::size_t count) {
  return {text.data(), count < text.size() ? count : text.size()};
}
constexpr std::string_view tail(std::string_view text, std::size_t from) {
  return from < text.size() ? std::string_view(text.data() + from, text.size() - from)
                            : std::string_view();
}

template <std::size_t Capacity>
class FixedText {
  static_assert(Capacity > 8, "room for some text and the truncation mark");

 public:
  FixedText& add(std::string_view text) {
    for (char c : text) put(c);
    return *this;
  }

  FixedText& add(std::int64_t number) {
    char digits[24];
    std::size_t count = 0;
    // Work with the negative magnitude so INT64_MIN needs no special case.
    std::int64_t rest = number < 0 ? number : -number;
    do {
      digits[count++] = static_cast<char>('0' - rest % 10);
      rest /= 10;
    } while (rest != 0);
    if (number < 0) put('-');
    while (count > 0) put(digits[--count]);
    return *this;
  }

  FixedText& add(int number) { return add(static_cast<std::int64_t>(number)); }
  FixedText& add(unsigned number) { return add(static_cast<std::int64_t>(number)); }

  // A value taken from the environment, made safe to print on one line: control and
  // non-ASCII bytes become '?', and at most 64 bytes of it are shown.
  FixedText& add_quoted_value(std::string_view value) {
    constexpr std::size_t kShown = 64;
    std::size_t shown = 0;
    for (char c : value) {
      if (shown++ == kShown) return add("...");
      unsigned char byte = static_cast<unsigned char>(c);
      put(byte >= 0x20 && byte < 0x7f ? c : '?');
    }
    return *this;
  }

  void clear() { length_ = 0, truncated_ = false, data_[0] = '\0'; }
  bool empty() const { return length_ == 0; }
  std::string_view view() const { return {data_, length_}; }
  const char* c_str() const { return data_; }

 private:
  static constexpr std::string_view kMark = "...";

  void put(char c) {
    if (truncated_) return;
    if (length_ + 1 + kMark.size() >= Capacity) {
      for (char m : kMark) data_[length_++] = m;
      truncated_ = true;
    } else {
      data_[length_++] = c;
    }
    data_[length_] = '\0';
  }

  char data_[Capacity] = {};
  std::size_t length_ = 0;
  bool truncated_ = false;
};

}  // namespace kashim
