// Memory the shim maps when first needed rather than keeping it in the library's zeroed data,
// which the loader would map in every process at start, sockets or not.
#pragma once

#include <atomic>
#include <cstddef>

#include "guards.hpp"
#include "kernel.hpp"

namespace kashim {

// `count` zeroed Ts, mapped once and published in `table`; every later call returns the
// same memory. Lock-free: two threads that map at once keep the first mapping published and
// the other is unmapped. Null when the kernel refuses (RLIMIT_AS), with errno as it was.
template <typename T>
T* mapped_once(std::atomic<T*>& table, std::size_t count) {
  T* published = table.load(std::memory_order_acquire);
  if (published != nullptr) return published;
  ErrnoGuard keep_errno;
  void* memory = kernel::map_anonymous(count * sizeof(T));
  if (memory == nullptr) return nullptr;
  if (!table.compare_exchange_strong(published, static_cast<T*>(memory),
                                     std::memory_order_acq_rel)) {
    kernel::unmap(memory, count * sizeof(T));  // another thread mapped it first
    return published;
  }
  return static_cast<T*>(memory);
}

}  // namespace kashim
