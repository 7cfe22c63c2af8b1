//! # anglegrad-ops
//!
//! Every differentiable op of anglegrad: its forward function and its backward rule side by
//! side, one file per family. Ops are free functions (`ops::add(&a, &b)`) and, through the
//! [`TensorOps`] trait in the prelude, methods (`a.add(&b)`).
//!
//! | file | ops |
//! |---|---|
//! | [`unary`] | neg, exp, log, sqrt, abs, relu, sigmoid, tanh, sin, cos, acos, powf, affine, clamp |
//! | [`binary`] | add, sub, mul, div, maximum, minimum, pow (numpy broadcasting) |
//! | [`compare`] | eq, ne, lt, le, gt, ge (masks, no gradient), where_ |
//! | [`reduce`] | sum, max (+ argmax), logsumexp; min = −max(−x) |
//! | [`layout`] | reshape, permute, transpose, broadcast_to |
//! | [`slice`] | narrow, concat |
//! | [`index`] | index_select, gather, scatter_add, one_hot |
//! | [`matmul`] | matmul with batch dims and transpose flags |
//! | [`conv`] | conv2d (stride, padding, dilation, groups) |
//! | [`pool`] | max_pool2d, avg_pool2d, global_avg_pool |
//! | [`norm`] | batch_norm (training and evaluation, running statistics) |
//! | [`prelu`], [`dropout`] | PReLU, inverted dropout with a seeded mask |
//! | [`cross_entropy`] | fused softmax cross-entropy |
//! | [`cast`] | to_dtype |
//! | [`composite`] | mean, l2_normalize, cosine_similarity, softmax, log_softmax (no rules) |
//! | [`metric`] | pairwise distances, angular margins, top-k, masked arg-selections, segment means, soft histograms |
//!
//! [`gradcheck`] is the central-difference gradient checker every op and loss is tested with.

pub mod binary;
pub mod cast;
pub mod compare;
pub mod composite;
pub mod conv;
pub mod cross_entropy;
pub mod dropout;
pub mod gradcheck;
pub mod index;
pub mod layout;
pub mod matmul;
mod methods;
pub mod metric;
pub mod norm;
pub mod pool;
pub mod prelu;
pub mod reduce;
pub mod slice;
pub mod unary;
mod util;

pub use binary::{add, div, maximum, minimum, mul, pow, sub};
pub use cast::to_dtype;
pub use compare::{eq, ge, gt, le, lt, ne, where_};
pub use composite::{
    cosine_similarity, l2_normalize, log_softmax, mean, mean_all, softmax, DEFAULT_NORM_EPS,
};
pub use conv::{conv2d, Conv2dOptions};
pub use cross_entropy::{cross_entropy, cross_entropy_rows};
pub use dropout::dropout;
pub use index::{gather, index_select, one_hot, scatter_add};
pub use layout::{broadcast_to, permute, reshape, transpose};
pub use matmul::{matmul, matmul_t};
pub use methods::TensorOps;
pub use norm::{batch_norm, BatchNormOptions, RunningStats};
pub use pool::{avg_pool2d, global_avg_pool, max_pool2d, Pool2dOptions};
pub use prelu::prelu;
pub use reduce::{argmax, logsumexp, max, max_with_indices, min, sum, sum_all};
pub use slice::{concat, narrow};
pub use unary::{
    abs, acos, add_scalar, affine, clamp, cos, exp, log, neg, powf, relu, scale, sigmoid, sin,
    sqrt, square, tanh,
};

/// The names of every op that records a node on the tape (the primitives and the fused ops).
/// The gradient-check table must exercise each of them; a test checks that it does.
pub const RECORDED_OPS: &[&str] = &[
    "neg",
    "exp",
    "log",
    "sqrt",
    "abs",
    "relu",
    "sigmoid",
    "tanh",
    "sin",
    "cos",
    "acos",
    "powf",
    "affine",
    "clamp",
    "add",
    "sub",
    "mul",
    "div",
    "maximum",
    "minimum",
    "pow",
    "where",
    "sum",
    "max",
    "logsumexp",
    "reshape",
    "permute",
    "broadcast_to",
    "narrow",
    "concat",
    "index_select",
    "gather",
    "scatter_add",
    "matmul",
    "cross_entropy",
    "to_dtype",
    "pairwise_sq_dist",
    "safe_sqrt",
    "target_margin",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool",
    "batch_norm",
    "prelu",
    "dropout",
    "fused_margin_softmax",
];

/// Composite ops (no rule of their own); the gradient-check table has a row for each too.
pub const COMPOSITE_OPS: &[&str] = &[
    "mean",
    "min",
    "transpose",
    "l2_normalize",
    "cosine_similarity",
    "softmax",
    "log_softmax",
    "pairwise_dist",
    "pairwise_sq_dist_expanded",
    "topk",
    "segment_sum",
    "segment_mean",
    "soft_histogram",
];

pub use metric::distance::{pairwise_dist, pairwise_sq_dist, pairwise_sq_dist_expanded, safe_sqrt};
pub use metric::histogram::{soft_histogram, soft_histogram_normalized};
pub use metric::margin::{target_margin, Fallback, GradientMode, MarginFn};
pub use metric::margin_head::{fused_margin_softmax_rows, MarginHead};
pub use metric::segment::{segment_mean, segment_sum};
pub use metric::select::{masked_argmax, masked_argmin};
pub use metric::topk::topk;
