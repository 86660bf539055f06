#include "elf_route.hpp"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "target.hpp"

namespace kashim::supervise {
namespace {

constexpr int kMaxScriptDepth = 4;  // as the kernel's binfmt_script nesting allows

bool read_at(int fd, off_t offset, void* into, std::size_t size) {
  return pread(fd, into, size, offset) == static_cast<ssize_t>(size);
}

struct Elf32 {
  using Header = Elf32_Ehdr;
  using Segment = Elf32_Phdr;
  using Section = Elf32_Shdr;
};
struct Elf64 {
  using Header = Elf64_Ehdr;
  using Segment = Elf64_Phdr;
  using Section = Elf64_Shdr;
};

// A Go build ID note: owner "Go", type 4 (ELF_NOTE_GOBUILDID_TAG in Go's linker).
bool has_go_note(int fd, off_t offset, std::size_t size) {
  constexpr std::size_t kMaxNotes = 1 << 16;
  if (size > kMaxNotes) size = kMaxNotes;
  std::vector<unsigned char> notes(size);
  if (!read_at(fd, offset, notes.data(), size)) return false;
  std::size_t at = 0;
  while (at + sizeof(Elf64_Nhdr) <= size) {  // Elf32_Nhdr has the same layout
    Elf64_Nhdr note;
    std::memcpy(&note, notes.data() + at, sizeof note);
    const std::size_t name_at = at + sizeof note;
    const std::size_t name_size = (note.n_namesz + 3) & ~std::size_t{3};
    const std::size_t next = name_at + name_size + ((note.n_descsz + 3) & ~std::size_t{3});
    if (next > size || next <= at) return false;
    // Go's linker writes the owner as "Go\0\0" (n_namesz 4); others would write "Go\0".
    if (note.n_type == 4 && (note.n_namesz == 3 || note.n_namesz == 4) &&
        std::memcmp(notes.data() + name_at, "Go", 3) == 0) {
      return true;
    }
    at = next;
  }
  return false;
}

// What the library and the supervisor are built for: the ELF class and machine of this
// program, which is built with them.
constexpr unsigned char kOwnClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
constexpr int kOwnMachine =
#if defined(__x86_64__)
    EM_X86_64;
#elif defined(__aarch64__)
    EM_AARCH64;
#elif defined(__i386__)
    EM_386;
#elif defined(__arm__)
    EM_ARM;
#elif defined(__riscv)
    EM_RISCV;
#else
    EM_NONE;
#endif

std::string machine_name(unsigned char elf_class, int machine) {
  std::string bits = elf_class == ELFCLASS64 ? "64-bit " : "32-bit ";
  switch (machine) {
    case EM_X86_64:
      return bits + "x86-64";
    case EM_386:
      return bits + "i386";
    case EM_AARCH64:
      return bits + "aarch64";
    case EM_ARM:
      return bits + "arm";
    case EM_RISCV:
      return bits + "riscv";
    default:
      return bits + "machine " + std::to_string(machine);
  }
}

template <typename Elf>
RouteChoice judge_elf(int fd) {
  typename Elf::Header header;
  if (!read_at(fd, 0, &header, sizeof header)) return {false, "a truncated ELF file"};
  if (header.e_type != ET_EXEC && header.e_type != ET_DYN) return {false, "not an ELF executable"};
  const unsigned char elf_class = header.e_ident[EI_CLASS];
  if (kOwnMachine != EM_NONE && (elf_class != kOwnClass || header.e_machine != kOwnMachine)) {
    return {false,
            "a " + machine_name(elf_class, header.e_machine) + " program: kashim is built for " +
                machine_name(kOwnClass, kOwnMachine) + " programs, and neither route reaches it",
            false};
  }
  bool interpreter = false;
  bool go = false;
  std::string go_reason;
  std::string interpreter_path;
  for (unsigned i = 0; i < header.e_phnum && i < 256; ++i) {
    typename Elf::Segment segment;
    if (!read_at(fd, static_cast<off_t>(header.e_phoff + i * sizeof segment), &segment,
                 sizeof segment)) {
      break;
    }
    if (segment.p_type == PT_INTERP) {
      interpreter = true;
      std::vector<char> path(segment.p_filesz < 4096 ? segment.p_filesz : 4096);
      if (read_at(fd, static_cast<off_t>(segment.p_offset), path.data(), path.size())) {
        interpreter_path.assign(path.data(), strnlen(path.data(), path.size()));
      }
    } else if (segment.p_type == PT_NOTE && !go &&
               has_go_note(fd, static_cast<off_t>(segment.p_offset), segment.p_filesz)) {
      go = true;
      go_reason = "a Go program (Go build ID note)";
    }
  }
  // The section headers name .go.buildinfo (Go 1.13+), the surest sign.
  typename Elf::Section names;
  if (header.e_shstrndx != SHN_UNDEF && header.e_shnum < 4096 &&
      read_at(fd, static_cast<off_t>(header.e_shoff + header.e_shstrndx * sizeof names), &names,
              sizeof names)) {
    for (unsigned i = 0; i < header.e_shnum; ++i) {
      typename Elf::Section section;
      char name[16] = {};
      if (!read_at(fd, static_cast<off_t>(header.e_shoff + i * sizeof section), &section,
                   sizeof section) ||
          pread(fd, name, sizeof name - 1, static_cast<off_t>(names.sh_offset + section.sh_name)) <
              0) {
        break;
      }
      if (std::strcmp(name, ".go.buildinfo") == 0) {
        go = true;
        go_reason = "a Go program (.go.buildinfo section)";
        break;
      }
    }
  }
  if (go) return {true, go_reason + ": Go makes its own system calls"};
  if (!interpreter) return {true, "statically linked (no PT_INTERP)"};
  return {false, "dynamically linked (PT_INTERP " + interpreter_path + ")"};
}

std::string_view base_name(std::string_view path) {
  return path.substr(path.rfind('/') + 1);  // npos + 1 == 0: the whole path
}

bool is_shell(std::string_view program) {
  static constexpr std::string_view kShells[] = {"sh",  "bash",    "dash", "zsh",
                                                 "ksh", "busybox", "mksh", "ash"};
  return std::find(std::begin(kShells), std::end(kShells), base_name(program)) != std::end(kShells);
}

// Whether a "#!" line runs a shell: its interpreter, or the program /usr/bin/env runs (the
// kernel passes everything after the interpreter as one argument: "-S bash -e" with -S).
bool runs_a_shell(std::string_view interpreter, std::string_view arguments) {
  if (base_name(interpreter) != "env") return is_shell(interpreter);
  bool skip_value = false;
  for (std::size_t at = arguments.find_first_not_of(" \t"); at != std::string_view::npos;
       at = arguments.find_first_not_of(" \t", at)) {
    const std::size_t end = std::min(arguments.find_first_of(" \t", at), arguments.size());
    const std::string_view word = arguments.substr(at, end - at);
    at = end;
    if (skip_value) {
      skip_value = false;
    } else if (word == "-u" || word == "-C" || word == "--unset" || word == "--chdir") {
      skip_value = true;  // env's options that take the next word
    } else if (!word.starts_with("-") && word.find('=') == std::string_view::npos) {
      return is_shell(word);
    }
  }
  return false;
}

RouteChoice judge(const std::string& path, int depth) {
  UniqueFd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) return {false, "cannot read " + path + ": " + std::strerror(errno)};
  unsigned char start[256] = {};
  const ssize_t got = pread(file.get(), start, sizeof start - 1, 0);
  if (got >= 2 && start[0] == '#' && start[1] == '!') {
    if (depth >= kMaxScriptDepth) return {false, "a script nested too deeply"};
    std::string line(reinterpret_cast<char*>(start) + 2, static_cast<std::size_t>(got - 2));
    line = line.substr(0, line.find('\n'));
    const std::size_t begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos) return {false, "a script without an interpreter"};
    const std::size_t end = std::min(line.find_first_of(" \t", begin), line.size());
    const std::string interpreter = line.substr(begin, end - begin);
    RouteChoice choice = judge(interpreter, depth + 1);
    choice.reason = "a script for " + interpreter + ", " + choice.reason;
    // A shell entry-point script that execs a Go or static server is the common container
    // shape: the preload cannot follow it there, the supervisor's filter can. A Python or
    // PHP script runs its interpreter, which the preload serves, and rarely execs anything.
    if (depth == 0 && !choice.supervise && runs_a_shell(interpreter, line.substr(end))) {
      choice.reason += "; a Go or statically linked program it starts needs --supervise";
    }
    return choice;
  }
  if (got < SELFMAG || std::memcmp(start, ELFMAG, SELFMAG) != 0) {
    return {false, "not an ELF executable"};
  }
  return start[EI_CLASS] == ELFCLASS64 ? judge_elf<Elf64>(file.get())
                                       : judge_elf<Elf32>(file.get());
}

}  // namespace

RouteChoice choose_route(const std::string& path) {
  return judge(path, 0);
}

std::string describe_route(const RouteChoice& choice) {
  if (!choice.reachable) return "none: " + choice.reason;
  return (choice.supervise ? "supervise: " : "preload: ") + choice.reason;
}

}  // namespace kashim::supervise
