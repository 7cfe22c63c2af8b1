//! The PTX cache: each module is compiled at most once per architecture and process (in
//! memory), and at most once per machine (on disk) until its source, the options or the NVRTC
//! release change.
//!
//! On disk: `$ANGLEGRAD_CACHE_DIR`, else `$XDG_CACHE_HOME/anglegrad/ptx`, else
//! `~/.cache/anglegrad/ptx`; `ANGLEGRAD_CACHE_DIR=off` turns the disk cache off. A file is
//! named `<module>-compute_<arch>-<key>.ptx`, the key being the first 128 bits of
//! SHA-256(NVRTC version, options, source). A file is written to a temporary name and renamed,
//! so a reader never sees half of one; the disk cache is best effort (a read-only or missing
//! folder only costs a compilation).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::error::Result;
use super::modules::KernelModule;
use super::nvrtc;

/// The environment variable choosing the disk cache folder (`off` disables it).
pub const CACHE_DIR_ENV: &str = "ANGLEGRAD_CACHE_DIR";

/// The disk cache folder, or `None` when it is turned off or no home folder is known.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os(CACHE_DIR_ENV) {
        Some(v) if v == "off" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("anglegrad").join("ptx")),
    }
}

type Key = (&'static str, u32);
static MEMORY: OnceLock<Mutex<HashMap<Key, Arc<String>>>> = OnceLock::new();

/// The PTX of `module` for compute capability `arch` (e.g. 90): from memory, from disk, or
/// compiled now.
pub fn ptx(module: &'static KernelModule, arch: u32) -> Result<Arc<String>> {
    let memory = MEMORY.get_or_init(Default::default);
    if let Some(p) = memory
        .lock()
        .expect("ptx cache lock")
        .get(&(module.name, arch))
    {
        return Ok(p.clone());
    }
    let options = nvrtc::compile_options(arch);
    let file = cache_file(module, arch)?;
    let cached = file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .filter(|p| looks_like_ptx(p));
    let ptx = match cached {
        Some(p) => p,
        None => {
            let compiled = nvrtc::compile(module, &options)?;
            if let Some(f) = &file {
                store(f, &compiled.ptx);
            }
            compiled.ptx
        }
    };
    let ptx = Arc::new(ptx);
    memory
        .lock()
        .expect("ptx cache lock")
        .insert((module.name, arch), ptx.clone());
    Ok(ptx)
}

/// Forgets the PTX kept in memory (the disk cache stays): the next [`ptx`] reads the disk or
/// compiles again. For tests and for timing the compile path.
pub fn clear_memory() {
    if let Some(m) = MEMORY.get() {
        m.lock().expect("ptx cache lock").clear();
    }
}

/// The file [`ptx`] reads and writes for `module` at `arch`, or `None` without a cache folder.
pub fn cache_file(module: &KernelModule, arch: u32) -> Result<Option<PathBuf>> {
    let key = cache_key(
        module,
        &nvrtc::compile_options(arch),
        nvrtc::nvrtc()?.version,
    );
    Ok(cache_dir().map(|d| d.join(format!("{}-compute_{arch}-{key}.ptx", module.name))))
}

/// Hex of the first 16 bytes of SHA-256(version, options, source).
pub fn cache_key(module: &KernelModule, options: &[String], version: (i32, i32)) -> String {
    let mut h = Sha256::new();
    h.update(format!("nvrtc {}.{}\n", version.0, version.1));
    for o in options {
        h.update(o.as_bytes());
        h.update(b"\n");
    }
    h.update(module.source().as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A cheap sanity check of a cached file (a truncated or foreign file is recompiled).
pub fn looks_like_ptx(p: &str) -> bool {
    p.contains(".version") && p.contains(".target") && p.trim_end().ends_with('}')
}

fn store(file: &std::path::Path, ptx: &str) {
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    // Unique per process and call: two threads compiling the same module never share a file.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = file.with_extension(format!("tmp{}-{n}", std::process::id()));
    if std::fs::write(&tmp, ptx).is_ok() && std::fs::rename(&tmp, file).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
