// Whether the shim can read a program's memory without any risk of a fault, without asking
// the kernel: only when it lies on the very page of the stack the shim is running on.
//
// A program's setsockopt() value is usually a local variable of the function that calls it,
// a few hundred bytes above the hook's own frame, so on the same page most of the time.
// Reading it there lets force mode make one system call instead of two (events.cpp). Any
// other address (another page of the stack, the heap, a pointer that may be unmapped) is
// left to the kernel to read, which answers EFAULT where a read by the shim would crash.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kashim {

inline bool on_own_stack_page(const void* address, std::size_t size) {
  // No Linux architecture has pages smaller than 4 KiB, and every page size is a multiple of
  // it: two addresses in one 4 KiB block are on one page.
  constexpr std::uintptr_t kSmallestPage = 4096;
  // Written here, so its page is mapped, readable and ours while this thread runs, on any
  // architecture (a frame address is not a written slot everywhere: RISC-V's is the caller's
  // stack pointer).
  volatile unsigned char anchor = 0;
  const std::uintptr_t page = reinterpret_cast<std::uintptr_t>(&anchor) / kSmallestPage;
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(address);
  return size > 0 && first / kSmallestPage == page && (first + size - 1) / kSmallestPage == page;
}

}  // namespace kashim
