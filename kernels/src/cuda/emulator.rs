//! The CPU emulation of the CUDA kernels, so that the parity table runs on machines without a
//! GPU (CI included).
//!
//! The same `.cu` text NVRTC compiles is compiled by the host C++ compiler, with
//! `emulator/emu.h` in front: it defines the CUDA built-ins the kernels use (thread and block
//! indices, `__syncthreads`, warp shuffles, atomics, vector types) and a scheduler that runs
//! each CUDA thread of a block as a fiber. Every kernel gets a trampoline that reads its
//! parameters from the same pointer array `cuLaunchKernel` takes, so the launchers, the
//! argument packing and the buffers ([`super::alloc`], here host memory) are exactly those of
//! the GPU path. One launch runs at a time.
//!
//! Modules are compiled on first use into shared libraries kept beside the PTX cache
//! (`<cache>/emu/<module>-<hash>.so`, keyed by the source and the compiler), or in the temp
//! folder when the cache is off. The compiler is `$ANGLEGRAD_CXX`, else `c++`, `g++` or
//! `clang++` from the `PATH`.
//!
//! It checks indexing, bounds, reductions, barriers and warp exchanges in one legal
//! interleaving of the threads. It does not check timing, the GPU memory model, or libdevice's
//! last bits (the host's libm computes the math functions here): the parity table must still
//! be run on a GPU.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::LaunchConfig;
use sha2::{Digest, Sha256};

use super::cache::cache_dir;
use super::error::{CudaError, Result};
use super::modules::{KernelModule, MODULES};

/// The C++ prelude that stands in for the CUDA built-ins.
const EMU_H: &str = include_str!("emulator/emu.h");

/// The environment variable naming the host C++ compiler.
pub const CXX_ENV: &str = "ANGLEGRAD_CXX";

/// The host C++ compiler, or an error saying which were tried.
pub fn compiler() -> Result<PathBuf> {
    static FOUND: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let given = std::env::var_os(CXX_ENV).filter(|v| !v.is_empty());
            let candidates: Vec<PathBuf> = match given {
                Some(c) => vec![PathBuf::from(c)],
                None => ["c++", "g++", "clang++"].iter().map(PathBuf::from).collect(),
            };
            candidates
                .iter()
                .find(|c| {
                    std::process::Command::new(c)
                        .arg("--version")
                        .output()
                        .is_ok_and(|o| o.status.success())
                })
                .cloned()
                .ok_or_else(|| format!("no C++ compiler for the CUDA emulator (tried {candidates:?}; set {CXX_ENV})"))
        })
        .clone()
        .map_err(CudaError::Emulator)
}

/// The C++ translation unit of a module: the prelude, the module's source, one trampoline per
/// kernel.
fn translation_unit(module: &KernelModule) -> String {
    let mut s = String::from(EMU_H);
    s.push('\n');
    s.push_str(&module.source());
    for e in module.entry_names() {
        s.push_str(&format!("AG_EMU_ENTRY({e})\n"));
    }
    s
}

type Libraries = Mutex<HashMap<&'static str, Arc<libloading::Library>>>;

fn libraries() -> &'static Libraries {
    static LIBS: OnceLock<Libraries> = OnceLock::new();
    LIBS.get_or_init(Default::default)
}

/// The loaded emulation of `module`, compiled first if needed.
fn library(module: &'static KernelModule) -> Result<Arc<libloading::Library>> {
    if let Some(l) = libraries()
        .lock()
        .expect("emulator libraries")
        .get(module.name)
    {
        return Ok(l.clone());
    }
    let cxx = compiler()?;
    let tu = translation_unit(module);
    let mut h = Sha256::new();
    h.update(cxx.as_os_str().as_encoded_bytes());
    h.update(tu.as_bytes());
    let key: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = cache_dir()
        .map(|d| d.join("emu"))
        .unwrap_or_else(|| std::env::temp_dir().join("anglegrad-emu"));
    let so = dir.join(format!("{}-{key}.so", module.name));
    if !so.exists() {
        build(module, &cxx, &tu, &dir, &so)?;
    }
    // SAFETY: a library we just built from our own sources; its initialisers are trivial.
    let lib = unsafe { libloading::Library::new(&so) }
        .map_err(|e| CudaError::Emulator(format!("cannot load {}: {e}", so.display())))?;
    let lib = Arc::new(lib);
    libraries()
        .lock()
        .expect("emulator libraries")
        .insert(module.name, lib.clone());
    Ok(lib)
}

fn build(module: &KernelModule, cxx: &Path, tu: &str, dir: &Path, so: &Path) -> Result<()> {
    let fail = |what: String| CudaError::Emulator(format!("module `{}`: {what}", module.name));
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let unique = format!("{}-{:?}", std::process::id(), std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let cpp = dir.join(format!("{}-{unique}.cpp", module.name));
    let tmp_so = dir.join(format!("{}-{unique}.so.tmp", module.name));
    std::fs::write(&cpp, tu).map_err(|e| fail(format!("cannot write {}: {e}", cpp.display())))?;
    let out = std::process::Command::new(cxx)
        // No _FORTIFY_SOURCE: its checked longjmp refuses to jump between fiber stacks.
        .args([
            "-std=c++20",
            "-O2",
            "-fPIC",
            "-shared",
            "-w",
            "-U_FORTIFY_SOURCE",
            "-x",
            "c++",
        ])
        .arg(&cpp)
        .arg("-o")
        .arg(&tmp_so)
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", cxx.display())))?;
    let _ = std::fs::remove_file(&cpp);
    if !out.status.success() {
        return Err(fail(format!(
            "{} failed:\n{}",
            cxx.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    std::fs::rename(&tmp_so, so)
        .map_err(|e| fail(format!("cannot rename to {}: {e}", so.display())))
}

/// Compiles every module's emulation now, on all cores (the first launches then do not wait).
pub fn build_all() -> Result<()> {
    let errors = Mutex::new(Vec::new());
    let next = Mutex::new(MODULES.iter());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some(&m) = next.lock().expect("module list").next() else {
                    return;
                };
                if let Err(e) = library(m) {
                    errors.lock().expect("errors").push(e.to_string());
                }
            });
        }
    });
    let errors = errors.into_inner().expect("errors");
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CudaError::Emulator(errors.join("\n")))
    }
}

type Trampoline = unsafe extern "C" fn(*mut *mut c_void);
type Run = unsafe extern "C" fn(
    Trampoline,
    *mut *mut c_void,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    *mut c_char,
    usize,
) -> i32;

/// Runs kernel `entry` of `module` over the grid of `cfg` on the CPU.
///
/// # Safety
/// As [`super::CudaDevice`]'s `launch_raw`: `args` matches the kernel's parameters and the
/// addresses in it cover what the kernel touches.
pub(crate) unsafe fn launch(
    module: &'static KernelModule,
    entry: &str,
    cfg: LaunchConfig,
    args: &mut [*mut c_void],
) -> Result<()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let lib = library(module)?;
    let missing = |e: libloading::Error| {
        CudaError::Emulator(format!("kernel `{entry}` of module `{}`: {e}", module.name))
    };
    // SAFETY: the symbols are the ones emu.h and the trampolines define, with these types.
    let (run, trampoline) = unsafe {
        let run = *lib.get::<Run>(b"ag_emu_run\0").map_err(missing)?;
        let name = format!("ag_emu__{entry}\0");
        let trampoline = *lib.get::<Trampoline>(name.as_bytes()).map_err(missing)?;
        (run, trampoline)
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = [0 as c_char; 512];
    let (g, b) = (cfg.grid_dim, cfg.block_dim);
    // SAFETY: forwarded from the caller; `err` is a buffer of the length passed.
    let rc = unsafe {
        run(
            trampoline,
            args.as_mut_ptr(),
            g.0,
            g.1,
            g.2,
            b.0,
            b.1,
            b.2,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: the emulator writes a NUL-terminated message into `err`.
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
        Err(CudaError::Emulator(format!("kernel `{entry}`: {msg}")))
    }
}
