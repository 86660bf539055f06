#include "programs.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kashim {
namespace {

ProgramVerdict verdict(std::string_view list, std::string_view executable,
                       std::string_view invoked = {}) {
  return match_programs(list, {executable, invoked.empty() ? executable : invoked}).verdict;
}

TEST(Glob, Wildcards) {
  EXPECT_TRUE(glob_matches("php-fpm*", "php-fpm8.2"));
  EXPECT_TRUE(glob_matches("php-fpm*", "php-fpm"));
  EXPECT_FALSE(glob_matches("php-fpm*", "php"));
  EXPECT_TRUE(glob_matches("*", ""));
  EXPECT_TRUE(glob_matches("*", "anything"));
  EXPECT_FALSE(glob_matches("python3.?", "python3.11"));
  EXPECT_TRUE(glob_matches("python3.??", "python3.11"));
  EXPECT_TRUE(glob_matches("*sh", "bash"));
  EXPECT_FALSE(glob_matches("*sh", "ssh-agent"));
  EXPECT_TRUE(glob_matches("s*-*t", "ssh-agent"));
  EXPECT_TRUE(glob_matches("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_matches("a*b*c", "aXbYbZ"));
  EXPECT_FALSE(glob_matches("", "x"));
  EXPECT_TRUE(glob_matches("", ""));
}

TEST(Glob, Sets) {
  EXPECT_TRUE(glob_matches("python[23]", "python3"));
  EXPECT_FALSE(glob_matches("python[23]", "python4"));
  EXPECT_TRUE(glob_matches("node[0-9]*", "node18"));
  EXPECT_FALSE(glob_matches("node[0-9]*", "nodejs"));
  EXPECT_TRUE(glob_matches("x[!0-9]", "xa"));
  EXPECT_FALSE(glob_matches("x[^0-9]", "x5"));
  EXPECT_TRUE(glob_matches("x[]]", "x]"));
  EXPECT_TRUE(glob_matches("x[a-]", "x-")) << "a '-' at the end is a member";
}

TEST(Glob, ManyStarsStayFast) {
  // Backtracking over one star at a time: this would take forever with naive recursion.
  std::string name(2000, 'a');
  std::string glob;
  for (int i = 0; i < 40; ++i) glob += "*a";
  glob += "b";
  EXPECT_FALSE(glob_matches(glob, name));
}

TEST(Programs, FirstMatchWinsAndBangExcludes) {
  std::string_view list = "!ssh*, php-fpm*, python3*, !*";
  EXPECT_EQ(verdict(list, "sshd"), ProgramVerdict::kExcluded);
  EXPECT_EQ(verdict(list, "php-fpm8.2"), ProgramVerdict::kIncluded);
  EXPECT_EQ(verdict(list, "ls"), ProgramVerdict::kExcluded);
  EXPECT_EQ(verdict("!ssh*,*", "curl"), ProgramVerdict::kIncluded);
  EXPECT_EQ(verdict("*,!ssh*", "ssh"), ProgramVerdict::kIncluded) << "the first match decides";
}

TEST(Programs, UnmatchedIsNeitherIncludedNorExcluded) {
  EXPECT_EQ(verdict("php*", "ls"), ProgramVerdict::kUnmatched);
  EXPECT_EQ(verdict("", "ls"), ProgramVerdict::kUnmatched);
  EXPECT_EQ(verdict(" , ,", "ls"), ProgramVerdict::kUnmatched);
}

TEST(Programs, EitherNameMatches) {
  // python3 started through a symlink named after the application, or a script whose
  // interpreter is python3: the executable's name and argv[0]'s can differ.
  EXPECT_EQ(verdict("python3*", "app", "python3.11"), ProgramVerdict::kIncluded);
  EXPECT_EQ(verdict("app", "app", "python3.11"), ProgramVerdict::kIncluded);
  EXPECT_EQ(verdict("!app,*", "app", "python3.11"), ProgramVerdict::kExcluded);
  EXPECT_EQ(verdict("app", "", ""), ProgramVerdict::kUnmatched);
}

TEST(Programs, NamesTheDecidingItem) {
  ProgramMatch match = match_programs("php*, !ssh* ,*", {"sshd", "sshd"});
  EXPECT_EQ(match.verdict, ProgramVerdict::kExcluded);
  EXPECT_EQ(match.item, "!ssh*");
}

TEST(Programs, ListChecking) {
  std::string_view bad;
  EXPECT_EQ(check_program_list("!ssh*, *,", &bad), "");
  EXPECT_EQ(check_program_list("php, !", &bad), "has ! without a glob after it");
  EXPECT_EQ(bad, "!");
  EXPECT_EQ(check_program_list("/usr/bin/php", &bad),
            "contains / (a program is matched by its name, not its path)");
  EXPECT_EQ(check_program_list("php[5-8", &bad), "opens [ without closing it");
  EXPECT_EQ(bad, "php[5-8");
  // Commas alone would leave every program out, where an empty list means every program.
  EXPECT_EQ(check_program_list(" , ,", &bad),
            "holds no glob, only commas (an empty value means every program)");
  EXPECT_EQ(bad, " , ,");
  EXPECT_EQ(check_program_list("", &bad), "");
}

TEST(Programs, BaseName) {
  EXPECT_EQ(base_name("/usr/bin/php"), "php");
  EXPECT_EQ(base_name("php"), "php");
  EXPECT_EQ(base_name("./x/"), "");
}

}  // namespace
}  // namespace kashim
