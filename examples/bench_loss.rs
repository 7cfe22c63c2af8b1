//! Loss-layer benchmarks, one JSON line per case in the peers' schema (part `loss`), beside
//! `torch`'s figures of shared/peers/py/bench_loss.py: batch 256, embedding 512, C classes,
//! forward and forward+backward, and the peak memory of the first forward+backward.
//!
//! ```text
//! cargo run --release --example bench_loss -- [--threads N[,M]] [case-substring ...]
//! PROJECT_BENCH="cargo run --release --example bench_loss" ../shared/peers/run_all.sh project loss
//! ```
//!
//! Cases (the peers' strings): `softmax_ce`, `arcface` (our fused, class-chunked head: the
//! same loss as the peers' insightface-style full-matrix ArcFace), `arcface_tgt`, `cosface`,
//! `center`, for C = 10,000 and 100,000; `pdist`/`cdist 512x512 + top-2/row`. Each case runs
//! in its own process so the peak-memory figure is its own (as the peers do).

use std::time::Instant;

use anglegrad::losses::center::{center_loss, CenterMode};
use anglegrad::losses::{arcface, cosface};
use anglegrad::prelude::*;

const B: usize = 256;
const D: usize = 512;
const IMPL: &str = "anglegrad 0.1";

/// A loss as a function of its input tensors.
type LossFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

fn cases() -> Vec<String> {
    let mut v = Vec::new();
    for c in [10_000, 100_000] {
        for kind in ["softmax_ce", "arcface", "arcface_tgt", "cosface", "center"] {
            v.push(format!("{kind}_{c}"));
        }
    }
    v.push("pdist_topk".into());
    v.push("cdist_topk".into());
    v
}

/// VmRSS and VmHWM of this process, bytes.
fn status() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb * 1024.0)
    };
    (field("VmRSS"), field("VmHWM"))
}

fn time_ms(mut f: impl FnMut() -> Result<()>, min_reps: usize, budget_s: f64) -> Result<Vec<f64>> {
    let t0 = Instant::now();
    f()?;
    let first = t0.elapsed().as_secs_f64();
    let reps = ((budget_s / first.max(1e-5)) as usize).clamp(min_reps, 30);
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f().map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

fn emit(case: &str, threads: usize, ms: &mut [f64], flop: f64, extra: &str) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let median = ms[ms.len() / 2];
    let gf = if flop > 0.0 {
        format!(
            ",\"gflop\":{:.4},\"gflops\":{:.2},\"gflops_best\":{:.2}",
            flop / 1e9,
            flop / median / 1e6,
            flop / ms[0] / 1e6
        )
    } else {
        String::new()
    };
    println!(
        "{{\"part\":\"loss\",\"impl\":\"{IMPL}\",\"case\":\"{case}\",\"threads\":{threads},\"ms_median\":{median:.4},\"ms_min\":{:.4},\"ms_max\":{:.4},\"reps\":{}{gf}{extra}}}",
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
}

fn run_case(name: &str, threads: usize) -> Result<()> {
    let mut rng = Rng::new(0);
    let (case, leaves, flop_fwd, f): (String, Vec<Tensor>, f64, LossFn) =
        if name.starts_with("pdist") || name.starts_with("cdist") {
            let e = Tensor::randn([512, D], 0.0, 1.0, DType::F32, &mut rng)?;
            let expanded = name.starts_with("pdist");
            let f = move |t: &[Tensor]| -> Result<Tensor> {
                // pdist: the expanded form ‖a‖² + ‖b‖² − 2a·b (one GEMM), as torch's case;
                // cdist: our exact-zero explicit-difference distances.
                let d2 = if expanded {
                    ops::pairwise_sq_dist_expanded(&t[0], &t[0])?
                } else {
                    ops::pairwise_sq_dist(&t[0], &t[0])?
                };
                let d = ops::safe_sqrt(&d2.clamp(1e-12, f64::INFINITY)?)?;
                ops::topk(&d, 2, 1, true)?.0.sum_all()
            };
            (
                format!("{} 512x{D} + top-2/row", &name[..5]),
                vec![e],
                2.0 * 512.0 * 512.0 * D as f64,
                Box::new(f),
            )
        } else {
            let (kind, c) = name.rsplit_once('_').expect("kind_C");
            let c: usize = c.parse().expect("C");
            let x = Tensor::randn([B, D], 0.0, 1.0, DType::F32, &mut rng)?;
            let y: Vec<usize> = (0..B).map(|_| rng.below(c)).collect();
            let std = if kind == "center" { 1.0 } else { 0.01 };
            let w = Tensor::randn([c, D], 0.0, std, DType::F32, &mut rng)?;
            let flop = if kind == "center" {
                0.0
            } else {
                2.0 * (B * D * c) as f64
            };
            let mut leaves = vec![x, w];
            let f: LossFn = match kind {
                "softmax_ce" => {
                    leaves.push(Tensor::zeros([c], DType::F32)?);
                    Box::new(move |t: &[Tensor]| {
                        ops::cross_entropy(&t[0].matmul_t(&t[1], false, true)?.add(&t[2])?, &y)
                    })
                }
                "arcface" | "arcface_tgt" => {
                    let head = arcface::arcface_default().fused(4096);
                    Box::new(move |t: &[Tensor]| head.loss("arcface", &t[0], &t[1], &y))
                }
                "cosface" => {
                    let head = cosface::cosface(64.0, 0.35).fused(4096);
                    Box::new(move |t: &[Tensor]| head.loss("cosface", &t[0], &t[1], &y))
                }
                _ => Box::new(move |t: &[Tensor]| {
                    center_loss(&t[0], &t[1], &y, CenterMode::Learnable)?.scale(1.0 / B as f64)
                }),
            };
            (format!("{kind} B{B} D{D} C{c}"), leaves, flop, f)
        };
    let fwd_bwd = |leaves: &[Tensor]| -> Result<()> {
        let tape = Tape::new();
        let watched: Vec<Tensor> = leaves.iter().map(|t| tape.watch(t)).collect();
        let loss = f(&watched)?;
        let grads = tape.backward(&loss)?;
        std::hint::black_box(grads.len());
        Ok(())
    };
    // Memory of the first forward+backward, before any timing loop.
    let (rss0, _) = status();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    fwd_bwd(&leaves)?;
    let (_, hwm) = status();
    let peak_extra = if reset {
        (hwm - rss0) / (1 << 20) as f64
    } else {
        f64::NAN
    };
    let mut ms_f = time_ms(|| f(&leaves).map(|l| drop(std::hint::black_box(l))), 5, 1.5)?;
    emit(
        &format!("{case} fwd"),
        threads,
        &mut ms_f,
        flop_fwd,
        ",\"pass\":\"fwd (no tape)\"",
    );
    let mut ms_fb = time_ms(|| fwd_bwd(&leaves), 5, 2.0)?;
    let inputs_mb: f64 =
        leaves.iter().map(|t| t.size_in_bytes() as f64).sum::<f64>() / (1 << 20) as f64;
    let (_, hwm) = status();
    let extra = format!(
        ",\"pass\":\"fwd+bwd\",\"peak_extra_mb_first_step\":{peak_extra:.1},\"grads_mb\":{inputs_mb:.1},\"inputs_mb\":{inputs_mb:.1},\"peak_rss_mb\":{:.1}",
        hwm / (1 << 20) as f64
    );
    emit(
        &format!("{case} fwd+bwd"),
        threads,
        &mut ms_fb,
        3.0 * flop_fwd,
        &extra,
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let threads: usize = args[2].parse()?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()?;
        run_case(&args[1], threads)?;
        return Ok(());
    }
    let mut threads: Vec<usize> = Vec::new();
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--threads" {
            threads = it
                .next()
                .ok_or_else(|| anyhow::anyhow!("--threads needs a value"))?
                .split(',')
                .map(str::parse)
                .collect::<std::result::Result<_, _>>()?;
        } else {
            filters.push(a.clone());
        }
    }
    if threads.is_empty() {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
        threads.push(
            env("BENCH_THREADS")
                .or_else(|| env("RAYON_NUM_THREADS"))
                .unwrap_or(1),
        );
    }
    let exe = std::env::current_exe()?;
    for t in threads {
        for name in cases()
            .iter()
            .filter(|c| filters.is_empty() || filters.iter().any(|f| c.contains(f.as_str())))
        {
            let status = std::process::Command::new(&exe)
                .args(["--one", name, &t.to_string()])
                .status()?;
            if !status.success() {
                anyhow::bail!("case {name} failed");
            }
        }
    }
    Ok(())
}
