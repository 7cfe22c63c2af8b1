//! Parity of every CUDA kernel with its CPU reference, driven by one table.
//!
//! Each row runs one kernel family on the GPU and on the CPU, on the awkward sizes of DESIGN.md
//! §4 (1, 7, 33, 1031 and shapes built from them), in f32 and in f64, and records the worst
//! error |gpu − cpu| / (1 + |cpu|) against a tolerance of its own; the report shows how much of
//! each budget was used (llm.c's habit). Index outputs (argmax, top-k) and the dropout mask must
//! match exactly.
//!
//! Without a CUDA device the test prints "skipped: no CUDA device" and passes, unless
//! `ANGLEGRAD_REQUIRE_CUDA=1` (set it on a GPU machine), which turns the skip into a failure.
//! A device without libnvrtc is a failure then too (set `ANGLEGRAD_NVRTC_LIB`).
//! Without a device and with `ANGLEGRAD_CUDA_EMULATOR=1` (scripts/test.sh sets it), the table
//! runs on the CPU emulation of the kernels (kernels/src/cuda/emulator.rs): the kernels'
//! logic and the launchers are checked on every CI run, the GPU itself only on a GPU machine.
//!
//! Run on a GPU machine with:
//!   ANGLEGRAD_REQUIRE_CUDA=1 cargo test -p anglegrad-kernels --test cuda_parity -- --nocapture

#[path = "cuda_parity/elementwise.rs"]
mod elementwise;
#[path = "cuda_parity/layers.rs"]
mod layers;
#[path = "cuda_parity/matmul.rs"]
mod matmul;
#[path = "cuda_parity/metric.rs"]
mod metric;
#[path = "cuda_parity/reduce.rs"]
mod reduce;
#[path = "cuda_parity/support.rs"]
mod support;

use std::sync::Arc;

use support::{Check, CudaDevice, Result, Rng};

type Case = fn(&CudaDevice, &mut Rng, &mut Check) -> Result<()>;

/// One row of the table: a kernel family, its tolerances in f32 and f64, its case.
struct Row {
    name: &'static str,
    tol_f32: f64,
    tol_f64: f64,
    f32: Case,
    f64: Case,
}

macro_rules! row {
    ($name:literal, $tol32:expr, $tol64:expr, $module:ident :: $case:ident) => {
        Row {
            name: $name,
            tol_f32: $tol32,
            tol_f64: $tol64,
            f32: $module::$case::<f32>,
            f64: $module::$case::<f64>,
        }
    };
}

/// The table. Tolerances: exact (0) where the GPU does the same operations in the same order
/// (selections, copies, the dropout mask, the pooling backward); a few ulps where only the
/// math library or an FMA differs; more where the summation order differs (tree reductions,
/// GEMM tiles, atomics), scaled to the sums' lengths.
const TABLE: &[Row] = &[
    row!("unary fwd/bwd (14 ops)", 2e-6, 1e-13, elementwise::unary),
    row!(
        "binary fwd/bwd, broadcast (7 ops)",
        2e-6,
        1e-13,
        elementwise::binary
    ),
    row!(
        "compare, where fwd/bwd",
        0.0,
        0.0,
        elementwise::compare_where
    ),
    row!("sum along an axis", 1e-5, 1e-13, reduce::sum),
    row!("max + argmax, max bwd", 0.0, 0.0, reduce::max),
    row!("logsumexp along an axis", 2e-6, 1e-13, reduce::logsumexp),
    row!("softmax, log-softmax fwd/bwd", 5e-6, 1e-13, reduce::softmax),
    row!(
        "softmax cross-entropy fwd/bwd",
        5e-6,
        1e-13,
        reduce::cross_entropy
    ),
    row!(
        "permute, narrow, index_select, gather",
        0.0,
        0.0,
        elementwise::movement
    ),
    row!(
        "index_add, scatter_add (atomics)",
        1e-6,
        1e-14,
        elementwise::scatter
    ),
    row!(
        "pairwise squared distances fwd/bwd",
        1e-5,
        1e-12,
        metric::pairwise
    ),
    row!("l2-normalise fwd/bwd", 1e-5, 1e-13, metric::l2_normalize),
    row!("top-k values + indices", 0.0, 0.0, metric::topk),
    row!(
        "margin φ fwd/bwd (all variants)",
        1e-6,
        1e-12,
        metric::margin
    ),
    row!(
        "gemm (4 transposes, alpha/beta, batched)",
        5e-5,
        1e-12,
        matmul::gemm
    ),
    row!(
        "conv2d fwd / bwd data / bwd weight / bias",
        5e-5,
        1e-12,
        matmul::conv
    ),
    row!(
        "max / avg / global pooling fwd/bwd",
        1e-6,
        1e-14,
        layers::pool
    ),
    row!(
        "batch norm train/eval fwd/bwd",
        1e-4,
        1e-11,
        layers::batch_norm
    ),
    row!("PReLU fwd/bwd", 1e-5, 1e-13, layers::prelu),
    row!("dropout mask fwd/bwd", 0.0, 0.0, layers::dropout),
];

/// Device 0; without one, the CPU emulation of the kernels when `ANGLEGRAD_CUDA_EMULATOR=1`
/// (scripts/test.sh sets it); else `None` after printing why the test is skipped.
fn device_or_skip() -> Option<Arc<CudaDevice>> {
    let env_is = |k: &str| std::env::var(k).is_ok_and(|v| v == "1");
    let require = env_is("ANGLEGRAD_REQUIRE_CUDA");
    let dev = match CudaDevice::new(0) {
        Ok(d) => d,
        Err(e) => {
            assert!(!require, "ANGLEGRAD_REQUIRE_CUDA=1 but: {e}");
            if env_is("ANGLEGRAD_CUDA_EMULATOR") {
                println!("no CUDA device ({e}): running on the CPU emulation of the kernels");
                let dev = CudaDevice::emulated().expect("ANGLEGRAD_CUDA_EMULATOR=1");
                anglegrad_kernels::cuda::emulator::build_all().expect("emulated modules");
                return Some(dev);
            }
            println!("skipped: no CUDA device ({e})");
            return None;
        }
    };
    if let Err(e) = anglegrad_kernels::cuda::nvrtc::nvrtc() {
        assert!(
            !require,
            "ANGLEGRAD_REQUIRE_CUDA=1 and a device is present, but: {e}"
        );
        println!("skipped: {e}"); // "NVRTC not found: looked in ..."
        return None;
    }
    Some(dev)
}

#[test]
fn cuda_kernels_match_cpu_references() {
    let Some(dev) = device_or_skip() else {
        return;
    };
    println!("{dev:?}");
    println!(
        "{:<44} {:<4} {:>10} {:>9} {:>7} {:>6}  worst at",
        "kernel", "type", "worst err", "tolerance", "used", "secs"
    );
    let mut failures = Vec::new();
    for (i, row) in TABLE.iter().enumerate() {
        for (dtype, tol, case) in [("f32", row.tol_f32, row.f32), ("f64", row.tol_f64, row.f64)] {
            let mut check = Check::default();
            let mut rng = Rng(0xC0DA + i as u64);
            let started = std::time::Instant::now();
            if let Err(e) = case(&dev, &mut rng, &mut check).and_then(|()| dev.synchronize()) {
                failures.push(format!("{} {dtype}: {e}", row.name));
                continue;
            }
            let used = if tol > 0.0 {
                format!("{:.0}%", 100.0 * check.worst / tol)
            } else if check.worst == 0.0 {
                "exact".to_string()
            } else {
                "NOT EXACT".to_string()
            };
            println!(
                "{:<44} {dtype:<4} {:>10.2e} {tol:>9.0e} {used:>7} {:>6.1}  {}",
                row.name,
                check.worst,
                started.elapsed().as_secs_f64(),
                check.at
            );
            if check.compared == 0 {
                failures.push(format!("{} {dtype}: compared nothing", row.name));
            }
            if check.worst > tol {
                failures.push(format!(
                    "{} {dtype}: worst error {:e} at {} exceeds {tol:e}",
                    row.name, check.worst, check.at
                ));
            }
        }
    }
    let stats = dev.memory_stats();
    println!(
        "memory: peak in use {} KiB, peak reserved {} KiB, {} driver allocations, {} reuses",
        stats.peak_in_use / 1024,
        stats.peak_reserved / 1024,
        stats.driver_allocs,
        stats.reuses
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The caching allocator served repeated shapes from its cache, and gives it all back.
    assert!(
        stats.reuses > 0,
        "the caching allocator never reused a block"
    );
    assert_eq!(stats.in_use, 0, "every buffer was dropped");
    dev.empty_cache();
    assert_eq!(
        dev.memory_stats().reserved,
        0,
        "empty_cache returned every block"
    );
}

/// Buffers whose lengths do not fit are refused with the op's name, before any launch.
#[test]
fn bad_lengths_are_errors_not_panics() {
    let Some(dev) = device_or_skip() else {
        return;
    };
    use anglegrad_kernels::cpu::elementwise::UnaryOp;
    let x = dev.htod(&[1.0f32, 2.0, 3.0]).unwrap();
    let mut y = dev.alloc::<f32>(2).unwrap();
    let err = anglegrad_kernels::cuda::launch::elementwise::unary(&dev, UnaryOp::Exp, &x, &mut y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unary") && err.contains("expected 3"), "{err}");
}
