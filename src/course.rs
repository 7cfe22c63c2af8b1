//! # The anglegrad course
//!
//! A short course inside the code: from the chain rule on a scalar tape to the evaluation of a
//! face-recognition model. Each chapter is a markdown file of `docs/` (readable on its own, on
//! GitHub or here, in 10–15 minutes) and a sub-module of this one, so that
//! `cargo test --doc -p anglegrad` compiles and runs every Rust example of the course against the
//! real API: a chapter cannot drift from the code without a test failing.
//!
//! | chapter | what it teaches |
//! |---|---|
//! | [`ch01_chain_rule`] | derivatives, the chain rule, a scalar tape in 30 lines, the same on anglegrad's `Tape` |
//! | [`ch02_tensors_and_the_tape`] | `Tensor`, shapes, `watch` / `record` / `backward`, `Grads`, `Tape::dump`, writing an op |
//! | [`ch03_broadcasting`] | broadcasting rules and strides; why a broadcast input's gradient is a sum, taken once in the engine |
//! | [`ch04_matmul_and_gemm`] | matmul and its backward; how the GEMM kernel gets near the FMA peak (packing, micro-kernel, measured numbers) |
//! | [`ch05_convolution`] | convolution as GEMM: im2col, its backward (col2im), the implicit im2col of the fast path |
//! | [`ch06_gradient_checking`] | central differences in f64, step and tolerances, kinks; `ops::gradcheck` |
//! | [`ch07_normface`] | from softmax to NormFace: normalised features and weights, the scale s and the loss's lower bound |
//! | [`ch08_margins`] | SphereFace, CosFace, ArcFace side by side: boundaries, the threshold trick, paper vs reference code |
//! | [`ch09_metric_losses`] | contrastive and DeepID2, FaceNet triplets and their miners, center loss, range loss, focal and the long tail |
//! | [`ch10_mining_inside_the_loss`] | SV-/MV-Softmax (hard classes re-weighted by t), distribution distillation (soft histograms, KL, order loss) |
//! | [`ch11_evaluating_a_face_model`] | 10-fold verification accuracy, ROC, AUC, EER, TAR@FAR, the raw-pixel and untrained-network floors |
//!
//! Each chapter links to the source files it explains (relative links from `docs/`);
//! `tests/course_links.rs` checks that every link still points at a file.

#[doc = include_str!("../docs/01-chain-rule.md")]
pub mod ch01_chain_rule {}

#[doc = include_str!("../docs/02-tensors-and-the-tape.md")]
pub mod ch02_tensors_and_the_tape {}

#[doc = include_str!("../docs/03-broadcasting.md")]
pub mod ch03_broadcasting {}

#[doc = include_str!("../docs/04-matmul-and-gemm.md")]
pub mod ch04_matmul_and_gemm {}

#[doc = include_str!("../docs/05-convolution.md")]
pub mod ch05_convolution {}

#[doc = include_str!("../docs/06-gradient-checking.md")]
pub mod ch06_gradient_checking {}

#[doc = include_str!("../docs/07-normface.md")]
pub mod ch07_normface {}

#[doc = include_str!("../docs/08-margins.md")]
pub mod ch08_margins {}

#[doc = include_str!("../docs/09-metric-losses.md")]
pub mod ch09_metric_losses {}

#[doc = include_str!("../docs/10-mining-inside-the-loss.md")]
pub mod ch10_mining_inside_the_loss {}

#[doc = include_str!("../docs/11-evaluating-a-face-model.md")]
pub mod ch11_evaluating_a_face_model {}
