//! The kernel modules: which `.cu` sources make each one and which kernels it exports.
//!
//! A module's source is its parts pasted together in order (`common.cuh` first, the shared
//! GEMM tile of `tile.cuh` for the two GEMM families), each preceded by a `#line` directive so
//! that NVRTC's messages name the real file and line. Nothing is `#include`d: NVRTC needs no
//! header from the system.
//!
//! Every kernel is exported once per element type as `<op>_<fwd|bwd>_<dtype>` (`unary_fwd_f32`,
//! `unary_fwd_f64`); [`KernelModule::entries`] lists the `<op>_<fwd|bwd>` stems. The compile test
//! checks that the PTX of each module exports exactly these names, so a launcher can never ask
//! for a kernel that does not exist.

/// One `.cu` file (or header) and its text.
#[derive(Clone, Copy, Debug)]
pub struct SourcePart {
    pub file: &'static str,
    pub text: &'static str,
}

/// A unit of compilation: one NVRTC program, one loaded CUDA module.
#[derive(Debug)]
pub struct KernelModule {
    pub name: &'static str,
    pub parts: &'static [SourcePart],
    /// Kernel stems `<op>_<fwd|bwd>`; each exists for every type of [`DTYPES`].
    pub entries: &'static [&'static str],
}

/// The element types every kernel is instantiated for.
pub const DTYPES: [&str; 2] = ["f32", "f64"];

impl KernelModule {
    /// The full source handed to NVRTC.
    pub fn source(&self) -> String {
        let mut s = String::new();
        for part in self.parts {
            s.push_str(&format!("#line 1 \"{}\"\n", part.file));
            s.push_str(part.text);
            s.push('\n');
        }
        s
    }

    /// Every exported kernel name, `<stem>_<dtype>`.
    pub fn entry_names(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| DTYPES.iter().map(move |t| format!("{e}_{t}")))
            .collect()
    }
}

macro_rules! part {
    ($file:literal) => {
        SourcePart {
            file: $file,
            text: include_str!($file),
        }
    };
}

const COMMON: SourcePart = part!("common.cuh");
const TILE: SourcePart = part!("tile.cuh");

pub const ELEMENTWISE: KernelModule = KernelModule {
    name: "elementwise",
    parts: &[COMMON, part!("elementwise.cu")],
    entries: &[
        "unary_fwd",
        "unary_bwd",
        "binary_fwd",
        "binary_bwd",
        "compare_fwd",
        "where_fwd",
        "where_bwd",
    ],
};

pub const REDUCE: KernelModule = KernelModule {
    name: "reduce",
    parts: &[COMMON, part!("reduce.cu")],
    entries: &[
        "sum_fwd",
        "sum_strided_fwd",
        "max_fwd",
        "max_strided_fwd",
        "max_bwd",
        "logsumexp_fwd",
        "logsumexp_strided_fwd",
    ],
};

pub const SOFTMAX: KernelModule = KernelModule {
    name: "softmax",
    parts: &[COMMON, part!("softmax.cu")],
    entries: &[
        "softmax_fwd",
        "softmax_bwd",
        "log_softmax_fwd",
        "log_softmax_bwd",
        "cross_entropy_fwd",
        "cross_entropy_bwd",
    ],
};

pub const MOVEMENT: KernelModule = KernelModule {
    name: "movement",
    parts: &[COMMON, part!("movement.cu")],
    entries: &[
        "permute_fwd",
        "narrow_fwd",
        "narrow_bwd",
        "index_select_fwd",
        "index_select_bwd",
        "gather_fwd",
        "gather_bwd",
    ],
};

pub const METRIC: KernelModule = KernelModule {
    name: "metric",
    parts: &[COMMON, part!("metric.cu")],
    entries: &[
        "pairwise_sq_dist_fwd",
        "pairwise_sq_dist_bwd",
        "l2_normalize_fwd",
        "l2_normalize_bwd",
        "topk_fwd",
        "margin_fwd",
        "margin_bwd",
    ],
};

pub const GEMM: KernelModule = KernelModule {
    name: "gemm",
    parts: &[COMMON, TILE, part!("gemm.cu")],
    entries: &["gemm_fwd"],
};

pub const CONV: KernelModule = KernelModule {
    name: "conv",
    parts: &[COMMON, TILE, part!("conv.cu")],
    entries: &[
        "conv2d_fwd",
        "conv2d_data_bwd",
        "conv2d_weight_bwd",
        "conv2d_bias_bwd",
    ],
};

pub const POOL: KernelModule = KernelModule {
    name: "pool",
    parts: &[COMMON, part!("pool.cu")],
    entries: &[
        "max_pool2d_fwd",
        "max_pool2d_bwd",
        "avg_pool2d_fwd",
        "avg_pool2d_bwd",
        "global_avg_pool_fwd",
        "global_avg_pool_bwd",
    ],
};

pub const BATCHNORM: KernelModule = KernelModule {
    name: "batchnorm",
    parts: &[COMMON, part!("batchnorm.cu")],
    entries: &[
        "batch_norm_stats_fwd",
        "batch_norm_invstd_fwd",
        "batch_norm_apply_fwd",
        "batch_norm_params_bwd",
        "batch_norm_bwd",
    ],
};

pub const PRELU: KernelModule = KernelModule {
    name: "prelu",
    parts: &[COMMON, part!("prelu.cu")],
    entries: &["prelu_fwd", "prelu_bwd", "prelu_slope_bwd"],
};

pub const DROPOUT: KernelModule = KernelModule {
    name: "dropout",
    parts: &[COMMON, part!("dropout.cu")],
    entries: &["dropout_fwd", "dropout_bwd"],
};

/// Every module, in the order of the docs.
pub const MODULES: &[&KernelModule] = &[
    &ELEMENTWISE,
    &REDUCE,
    &SOFTMAX,
    &MOVEMENT,
    &METRIC,
    &GEMM,
    &CONV,
    &POOL,
    &BATCHNORM,
    &PRELU,
    &DROPOUT,
];
