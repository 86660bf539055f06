#include "programs.hpp"

#include "text.hpp"

namespace kashim {
namespace {

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text = tail(text, 1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text = head(text, text.size() - 1);
  }
  return text;
}

// Calls visit(item) for every non-empty item of a comma-separated list, until it returns
// false; returns whether every call returned true.
template <typename Visit>
bool for_each_item(std::string_view list, Visit visit) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = trim_blanks(head(list, comma));
    list = comma == std::string_view::npos ? std::string_view() : tail(list, comma + 1);
    if (!item.empty() && !visit(item)) return false;
  }
  return true;
}

// The length of the set that starts at glob[0] == '[', up to and including its ']', or 0
// when it is not closed. A ']' right after the opening (or after its negation) is a member.
std::size_t set_length(std::string_view glob) {
  std::size_t i = 1;
  if (i < glob.size() && (glob[i] == '!' || glob[i] == '^')) ++i;
  if (i < glob.size() && glob[i] == ']') ++i;
  for (; i < glob.size(); ++i) {
    if (glob[i] == ']') return i + 1;
  }
  return 0;
}

bool set_contains(std::string_view set, char c) {
  std::string_view members = head(tail(set, 1), set.size() - 2);
  bool negated = !members.empty() && (members.front() == '!' || members.front() == '^');
  if (negated) members = tail(members, 1);
  bool found = false;
  for (std::size_t i = 0; i < members.size() && !found; ++i) {
    if (i + 2 < members.size() && members[i + 1] == '-') {
      found = members[i] <= c && c <= members[i + 2];
      i += 2;
    } else {
      found = members[i] == c;
    }
  }
  return found != negated;
}

}  // namespace

bool glob_matches(std::string_view glob, std::string_view name) {
  // Iterative, with one backtracking point (the last '*'): linear in practice, and no
  // recursion whatever the pattern.
  std::size_t g = 0, n = 0;
  std::size_t star = std::string_view::npos, star_name = 0;
  while (n < name.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      star_name = n;
      continue;
    }
    if (g < glob.size()) {
      std::size_t length = glob[g] == '[' ? set_length(tail(glob, g)) : 0;
      bool one = length > 0 ? set_contains(head(tail(glob, g), length), name[n])
                            : glob[g] == '?' || glob[g] == name[n];
      if (one) {
        g += length > 0 ? length : 1;
        ++n;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    g = star + 1;
    n = ++star_name;
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

std::string_view base_name(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : tail(path, slash + 1);
}

ProgramMatch match_programs(std::string_view list, const ProgramNames& names) {
  ProgramMatch match;
  for_each_item(list, [&](std::string_view item) {
    bool exclude = item.front() == '!';
    std::string_view glob = trim_blanks(exclude ? tail(item, 1) : item);
    bool matches = (!names.executable.empty() && glob_matches(glob, names.executable)) ||
                   (!names.invoked.empty() && glob_matches(glob, names.invoked));
    if (!matches) return true;
    match = {exclude ? ProgramVerdict::kExcluded : ProgramVerdict::kIncluded, item};
    return false;
  });
  return match;
}

std::string_view check_program_list(std::string_view list, std::string_view* bad_item) {
  std::string_view problem;
  bool any = false;
  for_each_item(list, [&](std::string_view item) {
    any = true;
    std::string_view glob = trim_blanks(item.front() == '!' ? tail(item, 1) : item);
    if (glob.empty()) {
      problem = "has ! without a glob after it";
    } else if (glob.find('/') != std::string_view::npos) {
      problem = "contains / (a program is matched by its name, not its path)";
    } else {
      for (std::size_t i = 0; i < glob.size() && problem.empty(); ++i) {
        if (glob[i] != '[') continue;
        std::size_t length = set_length(tail(glob, i));
        if (length == 0) problem = "opens [ without closing it";
        i += length > 0 ? length - 1 : 0;
      }
    }
    if (!problem.empty()) *bad_item = item;
    return problem.empty();
  });
  // Commas and blanks alone would match no program: every program out of scope, where an
  // empty value means every program.
  if (problem.empty() && !any && !trim_blanks(list).empty()) {
    problem = "holds no glob, only commas (an empty value means every program)";
    *bad_item = list;
  }
  return problem;
}

}  // namespace kashim
