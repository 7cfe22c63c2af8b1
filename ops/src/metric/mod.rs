//! The metric-learning ops: distances, angular margins, top-k, masked selections, per-class
//! means and soft histograms. Each file states its formula, its shapes and its backward rule.
//!
//! | file | ops |
//! |---|---|
//! | [`distance`] | `pairwise_sq_dist` (exact 0 for identical rows), `safe_sqrt`, `pairwise_dist`, `pairwise_sq_dist_expanded` |
//! | [`margin`] | `target_margin`: φ(cos θ) for CosFace, ArcFace (threshold / easy margin / none), the combined margin, and the L-Softmax / SphereFace ψ(θ) via Chebyshev polynomials; exact or detached gradient |
//! | [`topk`] | `topk` along an axis (values + indices, ties to the lower index) |
//! | [`select`] | `masked_argmax`, `masked_argmin` (selections, no gradient) |
//! | [`segment`] | `segment_sum`, `segment_mean` (per-class sums and means) |
//! | [`histogram`] | `soft_histogram` (Gaussian-kernel histogram of DDL) |

pub mod cosine_rows;
pub mod distance;
pub mod histogram;
pub mod margin;
pub mod margin_head;
pub mod segment;
pub mod select;
pub mod topk;
