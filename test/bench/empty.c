// Preloaded by the benchmark to measure what LD_PRELOAD costs by itself. The one variable is
// initialised data rather than zeroed: linked as libkashim.so is (two segments), a zeroed one
// would sit alone on a page past the file's end, for which the loader makes one more mmap().
int kashim_bench_empty_library = 1;
