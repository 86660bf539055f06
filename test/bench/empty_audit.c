// Named in LD_AUDIT by the benchmark to measure what an audit module costs by itself: the
// loader accepts a module that has la_version, and this one needs no library (nor does
// libkashim-audit.so: the loader would load a second copy of it for the module).
unsigned la_version(unsigned version) {
  return version;
}
