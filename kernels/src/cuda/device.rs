//! One CUDA device: its context and stream, its memory, and the kernels loaded on it.
//!
//! [`CudaDevice::new`] checks that libcuda can be opened *before* any driver call: cudarc
//! opens the driver lazily and panics when it is missing, and a machine without a GPU must get
//! an error (`CudaError::NoDriver`), not a panic. Every launch goes to the device's single
//! stream, so the operations of one device run in the order they were issued; copies back to
//! the host wait for that stream.
//!
//! Kernels are compiled for the device's own compute capability (`compute_90` on an H100) on
//! first use, through the PTX cache ([`super::cache`]), and each module is loaded once.
//!
//! [`CudaDevice::emulated`] is the same device API over the CPU emulation of the kernels
//! ([`super::emulator`]): host memory, kernels built by the host C++ compiler. It exists so
//! that the parity table runs where there is no GPU.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use cudarc::driver::{sys, CudaContext, CudaFunction, CudaModule, CudaStream, LaunchConfig};
use cudarc::nvrtc::Ptx;

use super::alloc::{Block, CachingAllocator, DeviceBuffer, DeviceElem, MemoryStats};
use super::error::{driver_error_name, CudaError, DriverContext, Result};
use super::modules::KernelModule;
use super::{cache, nvrtc};

/// Whether libcuda can be opened on this machine (no driver call is made).
pub fn driver_available() -> bool {
    // SAFETY: only tries to open the library.
    unsafe { sys::is_culib_present() }
}

/// How many CUDA devices the driver sees (0 when there is no driver).
pub fn device_count() -> Result<usize> {
    if !driver_available() {
        return Ok(0);
    }
    cudarc::driver::result::init().call("cuInit")?;
    Ok(CudaContext::device_count().call("cuDeviceGetCount")?.max(0) as usize)
}

/// The driver's CUDA version as (major, minor), e.g. (13, 0).
pub fn driver_version() -> Result<(i32, i32)> {
    if !driver_available() {
        return Err(CudaError::NoDriver("libcuda.so.1 cannot be opened".into()));
    }
    let mut v = 0;
    // SAFETY: a plain out-parameter.
    unsafe { sys::cuDriverGetVersion(&mut v) }
        .result()
        .call("cuDriverGetVersion")?;
    Ok((v / 1000, (v % 1000) / 10))
}

/// A CUDA device, ready to take buffers and kernel launches. Share it with `Arc`.
pub struct CudaDevice {
    ordinal: usize,
    name: String,
    arch: u32,
    sm_count: u32,
    alloc: Arc<CachingAllocator>,
    backend: Backend,
}

/// What runs the kernels: the driver on a GPU, or the CPU emulation (tests without a GPU).
enum Backend {
    Driver(DriverState),
    Emulator,
}

struct DriverState {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<String, CudaFunction>>,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cuda:{} ({}, sm_{}, {} SMs)",
            self.ordinal, self.name, self.arch, self.sm_count
        )
    }
}

impl CudaDevice {
    /// Opens device `ordinal`.
    pub fn new(ordinal: usize) -> Result<Arc<CudaDevice>> {
        let count = device_count()?;
        if !driver_available() {
            return Err(CudaError::NoDriver(
                "libcuda.so.1 cannot be opened (no NVIDIA driver)".into(),
            ));
        }
        if ordinal >= count {
            return Err(CudaError::NoDevice { ordinal, count });
        }
        let ctx = CudaContext::new(ordinal).call("cuDevicePrimaryCtxRetain")?;
        // One stream per device: its order is the only synchronisation we need, so cudarc's
        // per-buffer events (made for many streams) are turned off before any allocation.
        // SAFETY: no buffer exists yet, and this crate never uses a second stream.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().call("cuStreamCreate")?;
        let (major, minor) = ctx
            .compute_capability()
            .call("cuDeviceGetAttribute(COMPUTE_CAPABILITY)")?;
        let sm_count = ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .call("cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)")?;
        let name = ctx.name().call("cuDeviceGetName")?;
        Ok(Arc::new(CudaDevice {
            ordinal,
            name,
            arch: (major * 10 + minor) as u32,
            sm_count: sm_count.max(1) as u32,
            alloc: Arc::new(CachingAllocator::new(Some(stream.clone()))),
            backend: Backend::Driver(DriverState {
                ctx,
                stream,
                modules: Mutex::new(HashMap::new()),
                functions: Mutex::new(HashMap::new()),
            }),
        }))
    }

    /// The CPU emulation of the kernels ([`super::emulator`]): the same launchers and
    /// buffers, the kernels compiled by the host C++ compiler and run as fibers. For testing
    /// the kernels on machines without a GPU; fails when no C++ compiler is found.
    pub fn emulated() -> Result<Arc<CudaDevice>> {
        super::emulator::compiler()?;
        Ok(Arc::new(CudaDevice {
            ordinal: 0,
            name: "CPU emulation of the CUDA kernels".into(),
            arch: 0,
            // One "SM": grid-stride kernels get small grids, which the emulator runs faster.
            sm_count: 1,
            alloc: Arc::new(CachingAllocator::new(None)),
            backend: Backend::Emulator,
        }))
    }

    /// True for [`CudaDevice::emulated`].
    pub fn is_emulated(&self) -> bool {
        matches!(self.backend, Backend::Emulator)
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Compute capability as one number: 90 for 9.0 (Hopper), 80 for 8.0 (A100).
    pub fn arch(&self) -> u32 {
        self.arch
    }
    pub fn sm_count(&self) -> u32 {
        self.sm_count
    }

    /// A buffer of `len` elements whose contents are unspecified (the launchers overwrite).
    pub fn alloc<T: DeviceElem>(&self, len: usize) -> Result<DeviceBuffer<T>> {
        self.alloc.buffer(len)
    }

    /// A buffer of `len` zeros.
    pub fn zeros<T: DeviceElem>(&self, len: usize) -> Result<DeviceBuffer<T>> {
        let mut b = self.alloc(len)?;
        self.fill_zero(&mut b)?;
        Ok(b)
    }

    /// Sets every element of `buf` to 0 (all bits zero).
    pub fn fill_zero<T: DeviceElem>(&self, buf: &mut DeviceBuffer<T>) -> Result<()> {
        let bytes = std::mem::size_of_val(&T::default()) * buf.len();
        if bytes == 0 {
            return Ok(());
        }
        match (buf.block_mut(), &self.backend) {
            (Block::Host(h), _) => {
                h.fill(0);
                Ok(())
            }
            (Block::Device(d), Backend::Driver(dr)) => dr
                .stream
                .memset_zeros(&mut d.slice_mut(0..bytes))
                .call("cuMemsetD8Async"),
            (Block::Device(_), Backend::Emulator) => unreachable!("no device blocks here"),
        }
    }

    /// A copy of `host` on the device.
    pub fn htod<T: DeviceElem>(&self, host: &[T]) -> Result<DeviceBuffer<T>> {
        let mut b = self.alloc(host.len())?;
        self.copy_htod(host, &mut b)?;
        Ok(b)
    }

    /// Copies `host` into `buf` (same length).
    pub fn copy_htod<T: DeviceElem>(&self, host: &[T], buf: &mut DeviceBuffer<T>) -> Result<()> {
        if host.len() != buf.len() {
            return Err(CudaError::invalid(
                "copy_htod",
                format!(
                    "{} host elements into a buffer of {}",
                    host.len(),
                    buf.len()
                ),
            ));
        }
        if host.is_empty() {
            return Ok(());
        }
        // SAFETY: T is a plain number type, so its bytes may be viewed as u8.
        let bytes = unsafe {
            std::slice::from_raw_parts(host.as_ptr().cast::<u8>(), std::mem::size_of_val(host))
        };
        match (buf.block_mut(), &self.backend) {
            (Block::Host(h), _) => {
                // SAFETY: a u128 block is at least `bytes.len()` bytes (the size class).
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(h.as_mut_ptr().cast::<u8>(), bytes.len())
                };
                dst.copy_from_slice(bytes);
                Ok(())
            }
            (Block::Device(d), Backend::Driver(dr)) => dr
                .stream
                .memcpy_htod(bytes, &mut d.slice_mut(0..bytes.len()))
                .call("cuMemcpyHtoDAsync"),
            (Block::Device(_), Backend::Emulator) => unreachable!("no device blocks here"),
        }
    }

    /// The contents of `buf`, after every operation queued before this call has finished.
    pub fn dtoh<T: DeviceElem>(&self, buf: &DeviceBuffer<T>) -> Result<Vec<T>> {
        let mut host = vec![T::default(); buf.len()];
        if host.is_empty() {
            return Ok(host);
        }
        let n_bytes = std::mem::size_of_val(host.as_slice());
        // SAFETY: as in copy_htod; every bit pattern is a valid T.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(host.as_mut_ptr().cast::<u8>(), n_bytes) };
        match (buf.block(), &self.backend) {
            (Block::Host(h), _) => {
                // SAFETY: as in copy_htod.
                let src = unsafe { std::slice::from_raw_parts(h.as_ptr().cast::<u8>(), n_bytes) };
                bytes.copy_from_slice(src);
            }
            (Block::Device(d), Backend::Driver(dr)) => {
                dr.stream
                    .memcpy_dtoh(&d.slice(0..n_bytes), bytes)
                    .call("cuMemcpyDtoHAsync")?;
                self.synchronize()?;
            }
            (Block::Device(_), Backend::Emulator) => unreachable!("no device blocks here"),
        }
        Ok(host)
    }

    /// Waits until everything queued on the device has run; reports an asynchronous kernel
    /// error (an illegal address, say) here if there was one.
    pub fn synchronize(&self) -> Result<()> {
        match &self.backend {
            Backend::Driver(dr) => {
                dr.stream.synchronize().call("cuStreamSynchronize")?;
                dr.ctx.check_err().call("an earlier asynchronous call")
            }
            Backend::Emulator => Ok(()),
        }
    }

    pub fn memory_stats(&self) -> MemoryStats {
        self.alloc.stats()
    }

    /// Gives every cached block back to the driver (see [`super::alloc`]).
    pub fn empty_cache(&self) {
        self.alloc.empty_cache()
    }

    /// Queues kernel `entry` (full name, e.g. `unary_fwd_f32`) of `module` over the grid of
    /// `cfg`, its parameters given as in `cuLaunchKernel`: one pointer per parameter, to a value
    /// laid out as the kernel declares it. Compiles and loads the module on first use.
    ///
    /// # Safety
    /// `args` must match the kernel's parameter list, and every buffer address in it must
    /// cover what the kernel reads and writes for this grid (the launchers check this).
    pub(crate) unsafe fn launch_raw(
        &self,
        module: &'static KernelModule,
        entry: &str,
        cfg: LaunchConfig,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        let (gx, gy, gz) = cfg.grid_dim;
        if gx == 0 || gy == 0 || gz == 0 {
            return Ok(());
        }
        match &self.backend {
            Backend::Driver(dr) => {
                let f = dr.function(module, entry, self.arch)?;
                dr.ctx.bind_to_thread().call("cuCtxSetCurrent")?;
                // SAFETY: forwarded from the caller.
                unsafe {
                    cudarc::driver::result::launch_kernel(
                        f.cu_function(),
                        cfg.grid_dim,
                        cfg.block_dim,
                        cfg.shared_mem_bytes,
                        dr.stream.cu_stream(),
                        args,
                    )
                }
                .call("cuLaunchKernel")
            }
            // SAFETY: forwarded from the caller.
            Backend::Emulator => unsafe { super::emulator::launch(module, entry, cfg, args) },
        }
    }

    /// Blocks for a grid-stride kernel over `n` items with `threads` per block: enough to
    /// fill the device a few times over (each SM holds up to 2048 threads), never more than
    /// the items need.
    pub(crate) fn grid_for(&self, n: u64, threads: u32) -> u32 {
        let needed = n.div_ceil(threads as u64);
        let fill = self.sm_count as u64 * (2048 / threads as u64).max(1) * 4;
        needed.min(fill).min(i32::MAX as u64) as u32
    }
}

impl DriverState {
    /// The kernel `entry` of `module`, compiling and loading the module on first use.
    fn function(
        &self,
        module: &'static KernelModule,
        entry: &str,
        arch: u32,
    ) -> Result<CudaFunction> {
        if let Some(f) = self.functions.lock().expect("function cache").get(entry) {
            return Ok(f.clone());
        }
        let loaded = self.module(module, arch)?;
        let f = loaded.load_function(entry).map_err(|e| CudaError::Driver {
            call: "cuModuleGetFunction",
            name: format!(
                "{} (kernel `{entry}` of module `{}`)",
                driver_error_name(&e),
                module.name
            ),
        })?;
        self.functions
            .lock()
            .expect("function cache")
            .insert(entry.to_string(), f.clone());
        Ok(f)
    }

    fn module(&self, module: &'static KernelModule, arch: u32) -> Result<Arc<CudaModule>> {
        if let Some(m) = self.modules.lock().expect("module cache").get(module.name) {
            return Ok(m.clone());
        }
        let nv = nvrtc::nvrtc()?.version;
        let drv = driver_version()?;
        if nv > drv {
            return Err(CudaError::NvrtcNewerThanDriver {
                nvrtc: format!("{}.{}", nv.0, nv.1),
                driver: format!("{}.{}", drv.0, drv.1),
            });
        }
        let ptx = cache::ptx(module, arch)?;
        let loaded = self
            .ctx
            .load_module(Ptx::from_src(ptx.as_str()))
            .map_err(|e| CudaError::Driver {
                call: "cuModuleLoadData",
                name: format!("{} (module `{}`)", driver_error_name(&e), module.name),
            })?;
        self.modules
            .lock()
            .expect("module cache")
            .insert(module.name, loaded.clone());
        Ok(loaded)
    }
}

// The engine shares devices and buffers between threads (tensors are Send + Sync).
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CudaDevice>();
    send_sync::<DeviceBuffer<f32>>();
};
