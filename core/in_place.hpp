// Resetting a large object where it lives.
#pragma once

#include <memory>
#include <new>

namespace kashim {

// *object as freshly default-constructed. `*object = T()` would build the temporary on the
// stack first, and a Config or ConfigFile is one to several KiB: the preload library parses
// on whatever stack its first hooked call runs on (a signal handler's, a small thread's).
template <typename T>
void reset_in_place(T* object) {
  std::destroy_at(object);
  ::new (static_cast<void*>(object)) T();
}

}  // namespace kashim
