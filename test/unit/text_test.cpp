#include "text.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace kashim {
namespace {

TEST(FixedText, BuildsText) {
  FixedText<64> text;
  text.add("fd ").add(42).add(" ").add(std::int64_t{-7}).add(" ").add(INT64_MIN);
  EXPECT_EQ(text.view(), "fd 42 -7 -9223372036854775808");
  EXPECT_STREQ(text.c_str(), "fd 42 -7 -9223372036854775808");
}

TEST(FixedText, CutsShortWithAMarkAndNeverOverflows) {
  FixedText<16> text;
  text.add(std::string(100, 'x'));
  EXPECT_EQ(text.view(), "xxxxxxxxxxxx...");
  EXPECT_EQ(text.view().size(), 15u);
  text.add("more");
  EXPECT_EQ(text.view(), "xxxxxxxxxxxx...");
}

TEST(FixedText, QuotedValuesAreMaskedAndShortened) {
  FixedText<256> text;
  text.add_quoted_value(std::string("a\nb\x80") + std::string(100, 'c'));
  EXPECT_EQ(text.view(), "a?b?" + std::string(60, 'c') + "...");
}

TEST(FixedText, ClearStartsOver) {
  FixedText<16> text;
  text.add(std::string(40, 'y'));
  text.clear();
  text.add("ok");
  EXPECT_EQ(text.view(), "ok");
}

}  // namespace
}  // namespace kashim
