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
  // The frame the caller's frame pointer was saved into: written by the function's first
  // instruction, so its page is mapped, readable and ours while this thread runs. (The
  // address of a local variable would do as well, but would keep the compiler from making
  // the hook's call to libc its last act; see hooks.cpp.)
  const std::uintptr_t page =
      reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) / kSmallestPage;
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(address);
  return size > 0 && first / kSmallestPage == page && (first + size - 1) / kSmallestPage == page;
}

}  // namespace kashim
