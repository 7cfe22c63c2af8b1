//! Every CUDA kernel module compiles with NVRTC, and exports exactly the kernels the launchers
//! ask for. No GPU needed: libnvrtc alone (the PyPI wheel `nvidia-cuda-nvrtc` is enough).
//!
//! libnvrtc is found as at run time (kernels/src/cuda/nvrtc.rs): `ANGLEGRAD_NVRTC_LIB`, the
//! loader's path, a CUDA toolkit. Without one the tests print "skipped: NVRTC not found",
//! unless `ANGLEGRAD_REQUIRE_NVRTC=1` (set by scripts/test.sh, so CI really compiles).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Instant;

use anglegrad_kernels::cuda::modules::{KernelModule, SourcePart, MODULES};
use anglegrad_kernels::cuda::{cache, nvrtc, CudaError};

/// Ampere (A100) and Hopper (H100, H200): the GPUs this project trains on.
const ARCHES: [u32; 2] = [80, 90];

/// libnvrtc, or `None` after printing why the test is skipped.
fn nvrtc_or_skip() -> Option<&'static nvrtc::NvrtcInfo> {
    match nvrtc::nvrtc() {
        Ok(info) => {
            let from = info
                .path
                .as_ref()
                .map_or("the loader's search path".to_string(), |p| {
                    p.display().to_string()
                });
            println!("NVRTC {}.{} from {from}", info.version.0, info.version.1);
            Some(info)
        }
        Err(e) => {
            if std::env::var("ANGLEGRAD_REQUIRE_NVRTC").is_ok_and(|v| v == "1") {
                panic!("ANGLEGRAD_REQUIRE_NVRTC=1 but {e}");
            }
            println!("skipped: {e}"); // "NVRTC not found: looked in ..."
            None
        }
    }
}

/// One finished compilation: the module, its options, seconds taken, and the result.
type Outcome = (
    &'static KernelModule,
    Vec<String>,
    f64,
    Result<nvrtc::Compiled, CudaError>,
);

/// Compiles every (module, options) job on all cores; results in job order.
fn compile_all(jobs: Vec<(&'static KernelModule, Vec<String>)>) -> Vec<Outcome> {
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let done = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some((i, (module, options))) = queue.lock().unwrap().pop() else {
                    return;
                };
                let t = Instant::now();
                let r = nvrtc::compile(module, &options);
                done.lock()
                    .unwrap()
                    .push((i, module, options, t.elapsed().as_secs_f64(), r));
            });
        }
    });
    let mut done = done.into_inner().unwrap();
    done.sort_by_key(|d| d.0);
    done.into_iter()
        .map(|(_, m, o, t, r)| (m, o, t, r))
        .collect()
}

#[test]
fn every_module_compiles_to_ptx_for_ampere_and_hopper() {
    if nvrtc_or_skip().is_none() {
        return;
    }
    let jobs = MODULES
        .iter()
        .flat_map(|&m| ARCHES.iter().map(move |&a| (m, nvrtc::compile_options(a))))
        .collect();
    let mut failures = Vec::new();
    let mut kernels = 0;
    println!(
        "{:<12} {:<11} {:>9} {:>8} {:>7}",
        "module", "target", "PTX KiB", "kernels", "secs"
    );
    for (module, options, secs, result) in compile_all(jobs) {
        let target = options[0]
            .trim_start_matches("--gpu-architecture=")
            .to_string();
        let compiled = match result {
            Ok(c) => c,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        let got: BTreeSet<String> = nvrtc::ptx_entries(&compiled.ptx).into_iter().collect();
        let want: BTreeSet<String> = module.entry_names().into_iter().collect();
        if got != want {
            failures.push(format!(
                "module {} ({target}): kernels in the PTX but not declared: {:?}; declared but \
                 missing from the PTX: {:?}",
                module.name,
                got.difference(&want).collect::<Vec<_>>(),
                want.difference(&got).collect::<Vec<_>>()
            ));
        }
        if !cache::looks_like_ptx(&compiled.ptx) {
            failures.push(format!(
                "module {} ({target}): the PTX cache would reject this PTX",
                module.name
            ));
        }
        if !compiled.log.is_empty() {
            println!("NVRTC log of {} ({target}):\n{}", module.name, compiled.log);
        }
        kernels += got.len();
        println!(
            "{:<12} {:<11} {:>9.1} {:>8} {:>7.2}",
            module.name,
            target,
            compiled.ptx.len() as f64 / 1024.0,
            got.len(),
            secs
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!(
        "{kernels} kernels in {} modules compiled for {ARCHES:?}",
        MODULES.len()
    );
}

/// The register-blocked kernels (the GEMM tile) must not spill: ptxas, run by NVRTC for a real
/// `sm_90` target, reports registers and spills per kernel.
#[test]
fn tiled_kernels_do_not_spill_on_hopper() {
    if nvrtc_or_skip().is_none() {
        return;
    }
    let options = vec![
        "--gpu-architecture=sm_90".to_string(),
        "--std=c++17".into(),
        "--ptxas-options=-v".into(),
    ];
    let tiled: Vec<_> = MODULES
        .iter()
        .filter(|m| m.parts.iter().any(|p| p.file == "tile.cuh"))
        .map(|&m| (m, options.clone()))
        .collect();
    let mut spills = Vec::new();
    for (module, _, _, result) in compile_all(tiled) {
        let compiled = result.unwrap_or_else(|e| panic!("{e}"));
        // ptxas -v: "Function properties for NAME" then "N bytes stack frame, S bytes spill
        // stores, L bytes spill loads" then "Used R registers, ...".
        let mut current = String::new();
        for line in compiled.log.lines() {
            if let Some(name) = line.split("Function properties for ").nth(1) {
                current = name.trim().to_string();
            } else if line.contains("spill stores") {
                let stores: usize = line
                    .split("bytes stack frame, ")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(usize::MAX);
                if stores > 0 {
                    spills.push(format!("{}::{current}: {line}", module.name));
                }
            } else if let Some(used) = line.split("Used ").nth(1) {
                println!("{:<6} {:<24} {}", module.name, current, used.trim());
            }
        }
    }
    assert!(spills.is_empty(), "register spills:\n{}", spills.join("\n"));
}

/// A kernel that does not compile fails with the module's name and NVRTC's log.
#[test]
fn compile_errors_name_the_module_and_carry_the_log() {
    if nvrtc_or_skip().is_none() {
        return;
    }
    static BROKEN: KernelModule = KernelModule {
        name: "broken_example",
        parts: &[SourcePart {
            file: "broken_example.cu",
            text: "extern \"C\" __global__ void f_fwd_f32(float* x) { x[0] = undefined_name; }",
        }],
        entries: &["f_fwd"],
    };
    let err = nvrtc::compile(&BROKEN, &nvrtc::compile_options(90)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CudaError::Compile { .. }), "{msg}");
    assert!(msg.contains("broken_example"), "{msg}");
    assert!(
        msg.contains("undefined_name") && msg.contains("broken_example.cu(1)"),
        "{msg}"
    );
    println!("{msg}");
}
