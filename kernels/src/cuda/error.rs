//! Errors of the CUDA backend. Each names what failed and carries what a person needs to fix it:
//! the CUDA error name of a driver call (`CUDA_ERROR_OUT_OF_MEMORY`), the module and the full
//! NVRTC log of a compilation, the op and the sizes of a bad launch.

use cudarc::driver::DriverError;
use cudarc::nvrtc::result::NvrtcError;

/// What went wrong in the CUDA backend.
#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    /// libcuda could not be opened (no NVIDIA driver on this machine).
    #[error("no CUDA driver: {0}")]
    NoDriver(String),
    /// The driver is there but has no device with this ordinal.
    #[error("no CUDA device {ordinal} (the driver reports {count})")]
    NoDevice { ordinal: usize, count: usize },
    /// libnvrtc could not be found or opened; says where it looked.
    #[error("NVRTC not found: {0}")]
    NoNvrtc(String),
    /// A driver call failed. `name` is the CUDA error name, e.g. `CUDA_ERROR_OUT_OF_MEMORY`.
    #[error("CUDA driver call {call} failed: {name}")]
    Driver { call: &'static str, name: String },
    /// NVRTC rejected a kernel module: the module, the target, the options and the full log.
    #[error(
        "NVRTC could not compile module `{module}` for {arch} ({name}), options {options:?}:\n{log}"
    )]
    Compile {
        module: String,
        arch: String,
        name: String,
        options: Vec<String>,
        log: String,
    },
    /// Another NVRTC call failed (creating the program, reading the PTX).
    #[error("NVRTC call {call} for module `{module}` failed: {name}")]
    Nvrtc {
        call: &'static str,
        module: String,
        name: String,
    },
    /// The PTX that this NVRTC writes is newer than the driver can load.
    #[error(
        "libnvrtc {nvrtc} is newer than the driver's CUDA {driver}: the driver cannot load its \
         PTX. Point ANGLEGRAD_NVRTC_LIB at a libnvrtc of CUDA {driver} or older"
    )]
    NvrtcNewerThanDriver { nvrtc: String, driver: String },
    /// The CPU emulation of the kernels failed (no C++ compiler, a build error, a deadlock).
    #[error("CUDA emulator: {0}")]
    Emulator(String),
    /// A launcher was given buffers or sizes that do not fit together.
    #[error("{op}: {detail}")]
    Invalid { op: &'static str, detail: String },
}

/// Result of the CUDA backend.
pub type Result<T> = std::result::Result<T, CudaError>;

impl CudaError {
    pub(crate) fn invalid(op: &'static str, detail: impl Into<String>) -> Self {
        CudaError::Invalid {
            op,
            detail: detail.into(),
        }
    }
}

/// The name of a driver error, from the bindings' enum (no driver call needed, so it works
/// even when the failure was the driver itself).
pub(crate) fn driver_error_name(e: &DriverError) -> String {
    format!("{:?}", e.0)
}

pub(crate) fn nvrtc_error_name(e: &NvrtcError) -> String {
    format!("{:?}", e.0)
}

/// Attaches the name of the driver call to a cudarc result.
pub(crate) trait DriverContext<T> {
    fn call(self, call: &'static str) -> Result<T>;
}

impl<T> DriverContext<T> for std::result::Result<T, DriverError> {
    fn call(self, call: &'static str) -> Result<T> {
        self.map_err(|e| CudaError::Driver {
            call,
            name: driver_error_name(&e),
        })
    }
}
