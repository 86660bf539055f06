// Which route a program gets, read from its file before it runs: the preload reaches a
// program only through the dynamic linker and libc's socket functions; a statically linked
// program has no dynamic linker, and a Go program makes its own system calls (and sets its
// own keep-alive) even when dynamically linked. Those get the supervisor.
#pragma once

#include <string>

namespace kashim::supervise {

struct RouteChoice {
  bool supervise = false;
  std::string reason;  // "statically linked (no PT_INTERP)", "a Go program (...)", ...
  // False for a program of another ELF class or machine than kashim's (a 32-bit program on
  // x86-64): libkashim.so cannot be loaded into it, and its system calls pass the
  // supervisor's filter unseen. It runs untuned, without LD_PRELOAD.
  bool reachable = true;
};

// `path` names the program as exec would find it. A script ("#!") is judged by its
// interpreter. Anything unreadable or not ELF goes to the preload, which loses nothing.
RouteChoice choose_route(const std::string& path);

// "supervise: statically linked (no PT_INTERP)", "preload: dynamically linked (...)", or
// "none: a 32-bit i386 program (...)".
std::string describe_route(const RouteChoice& choice);

}  // namespace kashim::supervise
