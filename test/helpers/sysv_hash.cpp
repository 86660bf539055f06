// libkashim_sysv_hash.so: a library with only the old System V hash table (no GNU hash), as
// some old or hand-built libraries have. Preloaded after libkashim.so, it leaves the shim's
// own reading of the symbol tables unable to tell what it defines, so the shim must fall
// back to dlsym for the real functions (tested with the dlsym trap in front).
extern "C" __attribute__((visibility("default"))) int kashim_sysv_hash_marker() {
  return 1;
}
