//! NVRTC: finding libnvrtc at run time and compiling a kernel module to PTX.
//!
//! cudarc opens libnvrtc by name (`libnvrtc.so.13`, `libnvrtc.so.12`, ...) through the dynamic
//! loader, so it finds a library on `LD_LIBRARY_PATH` or in the loader cache and nothing else.
//! To also honour an explicit path, [`nvrtc`] first opens the file named by
//! `ANGLEGRAD_NVRTC_LIB` (a file, or a folder holding `libnvrtc.so.*`), or one in a CUDA
//! toolkit folder, by its full path. The loader then answers cudarc's later lookup by name
//! with the already-open library, because it matches names against the sonames of open
//! libraries. libnvrtc itself opens `libnvrtc-builtins.so.X.Y` by name when it compiles, which
//! fails for a library outside the search path (the PyPI wheel `nvidia-cuda-nvrtc`), so the
//! builtins found beside it are opened first in the same way.
//!
//! Search order: `ANGLEGRAD_NVRTC_LIB`; the loader's own search (`LD_LIBRARY_PATH`, ldconfig);
//! `$CUDA_HOME`, `$CUDA_PATH`, `/usr/local/cuda` (their `lib64` and `lib`).
//!
//! Nothing here needs a GPU: the CI compile test (`kernels/tests/cuda_compile.rs`) compiles
//! every module for fixed architectures with the libnvrtc of the PyPI wheel.

use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cudarc::nvrtc::{result, sys};

use super::error::{nvrtc_error_name, CudaError, Result};
use super::modules::KernelModule;

/// The environment variable naming libnvrtc (a file, or the folder it is in).
pub const NVRTC_LIB_ENV: &str = "ANGLEGRAD_NVRTC_LIB";

/// The libnvrtc in use.
#[derive(Clone, Debug)]
pub struct NvrtcInfo {
    /// The file opened by path, or `None` when the loader found it by name.
    pub path: Option<PathBuf>,
    /// (major, minor) of the CUDA release it belongs to, e.g. (13, 0).
    pub version: (i32, i32),
}

static NVRTC: OnceLock<std::result::Result<NvrtcInfo, String>> = OnceLock::new();

/// Finds and opens libnvrtc once per process; later calls return the same answer.
pub fn nvrtc() -> Result<&'static NvrtcInfo> {
    NVRTC
        .get_or_init(locate)
        .as_ref()
        .map_err(|why| CudaError::NoNvrtc(why.clone()))
}

fn locate() -> std::result::Result<NvrtcInfo, String> {
    let mut tried = Vec::new();
    if let Some(given) = std::env::var_os(NVRTC_LIB_ENV).filter(|v| !v.is_empty()) {
        let given = PathBuf::from(given);
        let file = if given.is_dir() {
            find_in_dir(&given).ok_or_else(|| {
                format!(
                    "{NVRTC_LIB_ENV}={} is a folder without libnvrtc.so.*",
                    given.display()
                )
            })?
        } else {
            given
        };
        // An explicit choice that fails is an error, not a reason to take another library.
        open_by_path(&file)?;
        return finish(Some(file));
    }
    tried.push(format!("{NVRTC_LIB_ENV} (unset)"));
    // SAFETY: only opens the library by cudarc's candidate names to see whether one loads.
    if unsafe { sys::is_culib_present() } {
        return finish(None);
    }
    tried.push("the loader's search path (LD_LIBRARY_PATH, ldconfig)".into());
    let roots = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| std::env::var_os(v).map(PathBuf::from))
        .chain([PathBuf::from("/usr/local/cuda")]);
    for root in roots {
        for lib in ["lib64", "lib"] {
            let dir = root.join(lib);
            if let Some(file) = find_in_dir(&dir) {
                open_by_path(&file)?;
                return finish(Some(file));
            }
            tried.push(dir.display().to_string());
        }
    }
    Err(format!(
        "looked in: {}. Install the PyPI wheel nvidia-cuda-nvrtc and set {NVRTC_LIB_ENV} to \
         its lib folder, or add a CUDA toolkit's lib64 to LD_LIBRARY_PATH",
        tried.join("; ")
    ))
}

fn finish(path: Option<PathBuf>) -> std::result::Result<NvrtcInfo, String> {
    // SAFETY: a library was opened above; cudarc's lookup by name now finds it.
    if !unsafe { sys::is_culib_present() } {
        return Err(format!(
            "opened {} but cudarc does not find it by name (its soname is not libnvrtc.so.13 \
             or libnvrtc.so.12)",
            path.as_deref().unwrap_or(Path::new("libnvrtc")).display()
        ));
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: plain out-parameters.
    let status = unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
    if status != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("nvrtcVersion failed: {status:?}"));
    }
    Ok(NvrtcInfo {
        path,
        version: (major, minor),
    })
}

/// `libnvrtc.so.N` in a folder (not the builtins, not the `.alt` variant of the wheels).
fn find_in_dir(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libnvrtc.so."))
        })
        .collect();
    // libnvrtc.so.13 before libnvrtc.so.13.0.88 (both are the same file in a toolkit).
    found.sort_by_key(|p| p.as_os_str().len());
    found.into_iter().next()
}

/// Opens the builtins beside `file`, then `file`, and keeps both open for the process.
fn open_by_path(file: &Path) -> std::result::Result<(), String> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let builtins = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libnvrtc-builtins.so.") && !n.contains(".alt."))
        });
    for b in builtins {
        // A builtins library that does not load is reported by NVRTC when it compiles.
        // SAFETY: opening a shared library runs its initialisers; these are NVIDIA's.
        if let Ok(lib) = unsafe { libloading::Library::new(&b) } {
            std::mem::forget(lib); // stays loaded for the life of the process
        }
    }
    // SAFETY: as above.
    let lib = unsafe { libloading::Library::new(file) }
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    std::mem::forget(lib);
    Ok(())
}

/// The NVRTC options for a module compiled for compute capability `arch` (e.g. 90 for 9.0):
/// PTX for that virtual architecture (the driver turns it into machine code for the exact
/// chip at load time), C++17, line info for the profilers. No fast math: the kernels must
/// match the CPU references.
pub fn compile_options(arch: u32) -> Vec<String> {
    vec![
        format!("--gpu-architecture=compute_{arch}"),
        "--std=c++17".into(),
        "--generate-line-info".into(),
    ]
}

/// What one NVRTC compilation produced.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The PTX text (or, for an `sm_XX` target, whatever `nvrtcGetPTX` returns).
    pub ptx: String,
    /// The compiler log, warnings included (empty when there were none).
    pub log: String,
}

/// Compiles `module` with the given options (see [`compile_options`]). A failure carries the
/// module name, the options and NVRTC's full log.
pub fn compile(module: &KernelModule, options: &[String]) -> Result<Compiled> {
    nvrtc()?;
    let arch = options
        .iter()
        .find_map(|o| o.strip_prefix("--gpu-architecture="))
        .unwrap_or("the default architecture")
        .to_string();
    let nvrtc_err = |call: &'static str| {
        move |e: result::NvrtcError| CudaError::Nvrtc {
            call,
            module: module.name.to_string(),
            name: nvrtc_error_name(&e),
        }
    };
    let src = CString::new(module.source()).map_err(|_| {
        CudaError::invalid(
            "nvrtc",
            format!("module {} contains a NUL byte", module.name),
        )
    })?;
    let name = CString::new(format!("{}.cu", module.name)).expect("module names have no NUL");
    let prog = Program(
        result::create_program(&src, Some(&name)).map_err(nvrtc_err("nvrtcCreateProgram"))?,
    );
    // SAFETY: prog is a live program; options are plain strings.
    let compiled = unsafe { result::compile_program(prog.0, options) };
    // SAFETY: as above; the log exists whether or not the compilation succeeded.
    let log = unsafe { result::get_program_log(prog.0) }
        .map(|raw| c_chars_to_string(&raw))
        .unwrap_or_default();
    if let Err(e) = compiled {
        return Err(CudaError::Compile {
            module: module.name.to_string(),
            arch,
            name: nvrtc_error_name(&e),
            options: options.to_vec(),
            log,
        });
    }
    // SAFETY: as above.
    let ptx = unsafe { result::get_ptx(prog.0) }.map_err(nvrtc_err("nvrtcGetPTX"))?;
    Ok(Compiled {
        ptx: c_chars_to_string(&ptx),
        log,
    })
}

/// Destroys the NVRTC program on every path out of [`compile`].
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by nvrtcCreateProgram and destroyed once; a failure leaks it.
        let _ = unsafe { result::destroy_program(self.0) };
    }
}

fn c_chars_to_string(raw: &[c_char]) -> String {
    let bytes: Vec<u8> = raw.iter().map(|&c| c as u8).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
        .trim_end()
        .to_string()
}

/// The `.entry` names of a PTX text, in order (the kernels a module exports).
pub fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix(".visible .entry ")
                .or_else(|| l.strip_prefix(".entry "))?;
            Some(rest.split('(').next().unwrap_or(rest).trim().to_string())
        })
        .collect()
}
