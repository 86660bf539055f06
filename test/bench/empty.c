// Preloaded by the benchmark to measure what LD_PRELOAD costs by itself.
int kashim_bench_empty_library;
