// The objects the loader had loaded when libkashim.so started, as far as the shim needs
// them: whether another copy of libkashim.so is in front of this one (copies.hpp), and the
// objects behind it, where the real functions are looked up (next_definition.hpp).
//
// Noted once by the constructor, with one walk over the loader's list (glibc's r_debug, found
// through the program's DT_DEBUG, when it says it is consistent; dl_iterate_phdr elsewhere) that
// reads no symbol table and calls no libc function, so that no hook ever takes the loader's lock
// afterwards: glibc does not reset that lock in a forked child, and a child forked while another
// thread of a threaded parent held it would wait for ever at its first socket call. What is behind
// this library at start is also what dlsym(RTLD_NEXT) searches: a library opened later with
// RTLD_LOCAL is not in its scope.
#pragma once

#include <link.h>

namespace kashim {

struct LoadedObjects {
  static constexpr int kMostBehind = 16;
  struct Object {
    ElfW(Addr) base;
    const ElfW(Dyn) * dynamic;
  };
  bool another_copy_in_front;
  bool more_behind;  // more than kMostBehind: what is not found in those goes to dlsym
  int behind_count;
  Object behind[kMostBehind];  // in load order; the first behind_count are set
};

// The constructor's note, from the constructor's arguments (glibc's; musl passes none).
void note_loaded_objects(int argc, char** argv, char** environment);

// The objects as noted at start; before the constructor has run (a hook called from another
// library's constructor), as they are now.
class LoadedObjectsView {
 public:
  LoadedObjectsView();
  const LoadedObjects& get() const { return *objects_; }

 private:
  LoadedObjects now_;  // filled only when nothing was noted yet
  const LoadedObjects* objects_;
};

}  // namespace kashim
