//! Allocator tuning for the whole process.
//!
//! Applied once at start-up by every `fracdet` command and by the benchmarks (so that they
//! measure what users run): inference, training and evaluation all churn through the same
//! large activation buffers. Profiled with `perf record` on the `bench` example
//! (MobileNetV2, 224², batch 16, 2 threads): without it 14 % of the samples were the kernel
//! zeroing freshly faulted pages (`clear_page_erms`), with it none; the training step time
//! did not change measurably (4.90 vs 4.94 img/s), inference did (below). Measured with
//! `target/release/examples/bench mobilenet_v2 224 16 3` on an otherwise idle 2-core machine:
//! inference 25.4 -> 31.0 img/s (best batch), training unchanged (3.20 -> 3.25 img/s).

/// Inference allocates and frees the same multi-megabyte activation buffers every batch.
/// glibc returns such blocks to the kernel (munmap / heap trim) on every free, so each batch
/// page-faults its memory back in: measured on 100 MobileNetV2 384² images on 2 cores,
/// 7.7 s of 21 CPU-seconds were kernel time. Keeping freed memory in the process (no trim,
/// a 256 MiB top pad, mmap only above 32 MiB, two arenas) brought it to 1.3 s.
/// Costs a few hundred MB of resident memory that the process would reuse anyway.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_memory() {
    // glibc <malloc.h> parameter numbers.
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_TOP_PAD: i32 = -2;
    const M_MMAP_THRESHOLD: i32 = -3;
    const M_ARENA_MAX: i32 = -8;
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only changes allocator tuning; it is called before the worker threads
    // start allocating, and every value is within glibc's documented range (it returns 0,
    // changing nothing, otherwise).
    unsafe {
        mallopt(M_ARENA_MAX, 2);
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TOP_PAD, 256 << 20);
        mallopt(M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory() {}
