#include "config_file.hpp"

#include <cstring>

namespace kashim {
namespace {

constexpr std::string_view kLineForms = "accepted: KEY = VALUE, [program GLOB,...] or a # comment";

std::string_view trim_space(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
  while (!text.empty() && blank(text.front())) text = tail(text, 1);
  while (!text.empty() && blank(text.back())) text = head(text, text.size() - 1);
  return text;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool same_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int key_index(std::string_view key) {
  for (int i = 0; i < kFileKeyCount; ++i) {
    if (same_ignoring_case(key, kFileKeys[i])) return i;
  }
  return -1;
}

// A '#' at the start of a line or after a blank begins a comment: `idle = 60  # 1 min`.
std::string_view without_comment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return head(line, i);
    }
  }
  return line;
}

class FileParser {
 public:
  FileParser(const ProgramNames* program, ConfigFile* file, int section)
      : program_(program), file_(*file), forced_section_(section) {}

  void run(std::string_view text) {
    while (!text.empty()) {
      std::size_t end = text.find('\n');
      std::string_view line = head(text, end);
      text = end == std::string_view::npos ? std::string_view() : tail(text, end + 1);
      ++line_;
      if (!parse_line(line)) {
        for (FileSetting& setting : file_.settings) setting = FileSetting();
        return;
      }
    }
  }

 private:
  bool parse_line(std::string_view raw) {
    if (std::memchr(raw.data(), '\0', raw.size()) != nullptr) {
      fail().add("contains a NUL byte (").add(kLineForms);
      return fail_end();
    }
    std::string_view line = trim_space(without_comment(raw));
    if (line.empty()) return true;
    if (line.front() == '[') return parse_section(line);
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      fail().add("\"").add_quoted_value(line).add("\" is not a setting (").add(kLineForms);
      return fail_end();
    }
    std::string_view key = trim_space(head(line, equals));
    std::string_view value = trim_space(tail(line, equals + 1));
    int index = key_index(key);
    if (index < 0) {
      fail().add("unknown key \"").add_quoted_value(key).add("\" (accepted:");
      for (int i = 0; i < kFileKeyCount; ++i)
        file_.error.add(i == 0 ? " " : ", ").add(kFileKeys[i]);
      return fail_end();
    }
    if (kFileKeys[index] == "programs" && in_section_) {
      fail().add(
          "programs is accepted only before the first [program ...] section (it decides "
          "which programs the file applies to");
      return fail_end();
    }
    if (part_lines_[index] != 0) {
      fail().add(kFileKeys[index]).add(" is set again (first on line ").add(part_lines_[index]);
      file_.error.add("; accepted: each key once before the sections and once in each section");
      return fail_end();
    }
    part_lines_[index] = line_;
    if (value.empty()) return true;  // as an empty variable: not set
    if (!in_section_ || (applies_ && !set_by_section_[index])) {
      file_.settings[index] = {value, line_, kFileKeys[index].data()};
      set_by_section_[index] = in_section_;
    }
    return true;
  }

  bool parse_section(std::string_view line) {
    constexpr std::string_view kKeyword = "program";
    std::string_view inner =
        line.back() == ']' ? trim_space(head(tail(line, 1), line.size() - 2)) : std::string_view();
    std::string_view list = trim_space(tail(inner, kKeyword.size()));
    bool spaced = inner.size() > kKeyword.size() &&
                  (inner[kKeyword.size()] == ' ' || inner[kKeyword.size()] == '\t');
    if (!same_ignoring_case(head(inner, kKeyword.size()), kKeyword) || !spaced || list.empty()) {
      fail().add("\"").add_quoted_value(line).add("\" is not a section (accepted: [program ");
      file_.error.add("GLOB,...], e.g. [program php-fpm*]");
      return fail_end();
    }
    std::string_view bad_item;
    if (std::string_view problem = check_program_list(list, &bad_item); !problem.empty()) {
      fail().add("program \"").add_quoted_value(bad_item).add("\" ").add(problem).add(" (");
      file_.error.add(kProgramListForms);
      return fail_end();
    }
    ++file_.sections;
    in_section_ = true;
    if (forced_section_ != 0) {
      applies_ = file_.sections == forced_section_;
    } else {
      applies_ = program_ != nullptr &&
                 match_programs(list, *program_).verdict == ProgramVerdict::kIncluded;
    }
    for (int& line_of_key : part_lines_) line_of_key = 0;
    return true;
  }

  // An error is built in two steps: fail() starts the line with the file and line number,
  // the caller adds what is wrong and "(accepted: ...", and fail_end() closes it.
  FixedText<400>& fail() {
    file_.error.clear();
    file_.error.add(file_.path != nullptr ? file_.path : "?").add(":").add(line_).add(": ");
    return file_.error;
  }
  bool fail_end() {
    file_.error.add(")");
    return false;
  }

  const ProgramNames* program_;
  ConfigFile& file_;
  int forced_section_;
  int line_ = 0;
  bool in_section_ = false;
  bool applies_ = false;
  int part_lines_[kFileKeyCount] = {};
  bool set_by_section_[kFileKeyCount] = {};
};

}  // namespace

const FileSetting* ConfigFile::find_variable(std::string_view variable) const {
  constexpr std::string_view kPrefix = "KASHIM_";
  if (variable.size() <= kPrefix.size() || head(variable, kPrefix.size()) != kPrefix) {
    return nullptr;
  }
  int index = key_index(tail(variable, kPrefix.size()));
  if (index < 0 || settings[index].value.empty()) return nullptr;
  return &settings[index];
}

void parse_config_file(std::string_view text, const ProgramNames* program, ConfigFile* file,
                       int section) {
  for (FileSetting& setting : file->settings) setting = FileSetting();
  file->sections = 0;
  file->error.clear();
  FileParser(program, file, section).run(text);
}

}  // namespace kashim
