//! The margin-softmax head shared by NormFace, CosFace, ArcFace, the combined margin and the
//! SV-X/MV-Softmax losses (LOSSES.md §0, "margin-softmax template").
//!
//! Shape legend: x [B, D] embeddings, W [C, D] class weights, y [B] labels,
//! cos [B, C], logits z [B, C].
//!
//!   c_ij = nrm(x_i) · nrm(w_j)                       (cosine of sample i and class j)
//!   z_ij = s · c_ij            for j ≠ y_i            (non-target classes)
//!   z_iy = s · φ(c_iy)                                (target class: the margin)
//!   L    = mean_i CE(z_i, y_i)
//!
//! Every loss of this family differs only in φ (a [`Margin`]), and SV-X in also re-weighting
//! the hard non-targets. The target column is replaced with `where` (not added to), so the
//! target logit is exactly s·φ(c) and the other logits exactly s·c.

use anglegrad_engine::{Result, Tensor};
use anglegrad_ops::{self as ops, Fallback, GradientMode, MarginFn, TensorOps};

use crate::check;

/// How the target cosine changes (φ), with the gradient mode of the margin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Margin {
    /// φ(c) = c: normalised softmax (NormFace).
    None,
    /// φ(c) = c − m (CosFace / AM-Softmax).
    Additive { m: f64 },
    /// φ(c) = cos(θ + m) with a fallback where θ > π − m (ArcFace).
    Angular {
        m: f64,
        fallback: Fallback,
        gradient: GradientMode,
    },
    /// φ(c) = cos(arccos(c) + m) evaluated through arccos, detached gradient: insightface
    /// arcface_torch since Dec 2022 (LOSSES.md §8).
    AngularAcos { m: f64 },
    /// φ(c) = cos(m1·θ + m2) − m3 (insightface combined margin).
    Combined { m1: f64, m2: f64, m3: f64 },
}

impl Margin {
    /// The target transform as the metric op of `anglegrad_ops`, or `None` for no margin.
    pub fn as_op(self) -> Option<(MarginFn, GradientMode)> {
        match self {
            Margin::None => None,
            Margin::Additive { m } => Some((MarginFn::Additive { m }, GradientMode::Exact)),
            Margin::Angular {
                m,
                fallback,
                gradient,
            } => Some((MarginFn::Angular { m, fallback }, gradient)),
            Margin::AngularAcos { m } => {
                Some((MarginFn::AngularAcos { m }, GradientMode::Detached))
            }
            Margin::Combined { m1, m2, m3 } => {
                Some((MarginFn::Combined { m1, m2, m3 }, GradientMode::Exact))
            }
        }
    }
}

/// Hard-negative re-weighting of SV-X-Softmax / MV-Softmax (LOSSES.md §11): a non-target k is
/// *hard* when c_k > φ(c_y) (the mask is computed without gradient from the original
/// cosines); its logit becomes s(t·c_k + t − 1) (`adaptive`) or s(c_k + t − 1) (fixed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HardNegatives {
    pub t: f64,
    pub adaptive: bool,
}

/// A cosine classifier head with a margin on the target class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarginSoftmax {
    /// The scale s (the radius of the hypersphere the logits live on).
    pub s: f64,
    pub margin: Margin,
    pub hard_negatives: Option<HardNegatives>,
    /// ε of the feature and weight normalisation (LOSSES.md §0).
    pub norm_eps: f64,
    /// `Some(chunk)`: compute the loss with the fused, class-chunked head
    /// (`anglegrad_ops::fused_margin_softmax_rows`, memory B × chunk instead of B × C); `None`:
    /// the composite of ops (the oracle). SV-X's hard-negative re-weighting is composite only.
    pub fused_chunk: Option<usize>,
}

impl MarginSoftmax {
    pub fn new(s: f64, margin: Margin) -> Self {
        MarginSoftmax {
            s,
            margin,
            hard_negatives: None,
            norm_eps: ops::DEFAULT_NORM_EPS,
            fused_chunk: None,
        }
    }

    /// The same head computed by the fused, class-chunked op (`chunk` classes at a time).
    pub fn fused(self, chunk: usize) -> Self {
        MarginSoftmax {
            fused_chunk: Some(chunk),
            ..self
        }
    }

    /// The cosine matrix c [B, C] of embeddings x [B, D] and class weights W [C, D].
    pub fn cosines(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        ops::cosine_similarity(x, w, self.norm_eps)
    }

    /// The logits z [B, C] (checks the inputs; `name` is the loss named in errors).
    pub fn logits(
        &self,
        name: &'static str,
        x: &Tensor,
        w: &Tensor,
        labels: &[usize],
    ) -> Result<Tensor> {
        let (b, d) = check::embeddings(name, x)?;
        let c = check::class_matrix(name, "weight", w, d)?;
        check::labels(name, labels, b, Some(c))?;
        let cos = self.cosines(x, w)?;
        let target_cos = ops::gather(&cos, 1, labels, &[b, 1])?; // [B, 1]
        let target = match self.margin.as_op() {
            Some((f, mode)) => ops::target_margin(&target_cos, f, mode)?,
            None => target_cos,
        };
        let others = match self.hard_negatives {
            Some(h) => reweight_hard_negatives(&cos, &target, labels, h)?,
            None => cos,
        };
        let is_target = ops::one_hot(labels, c, x.dtype())?;
        ops::where_(&is_target, &target, &others)?.scale(self.s)
    }

    /// Mean cross-entropy of the logits.
    pub fn loss(
        &self,
        name: &'static str,
        x: &Tensor,
        w: &Tensor,
        labels: &[usize],
    ) -> Result<Tensor> {
        if let (Some(chunk), None) = (self.fused_chunk, self.hard_negatives) {
            let (b, d) = check::embeddings(name, x)?;
            let c = check::class_matrix(name, "weight", w, d)?;
            check::labels(name, labels, b, Some(c))?;
            let head = ops::MarginHead {
                chunk,
                eps: self.norm_eps,
                ..ops::MarginHead::new(self.s, self.margin.as_op())
            };
            return ops::fused_margin_softmax_rows(x, w, labels, head)?.mean_all();
        }
        ops::cross_entropy(&self.logits(name, x, w, labels)?, labels)
    }
}

/// c'_k = c_k + I_k·(t − 1)(c_k + 1) (adaptive) or c_k + I_k·(t − 1) (fixed), with
/// I_k = [c_k > f_y] for k ≠ y: the hard negatives' cosines before scaling by s.
fn reweight_hard_negatives(
    cos: &Tensor,
    target: &Tensor,
    labels: &[usize],
    h: HardNegatives,
) -> Result<Tensor> {
    let (b, c) = (cos.dims()[0], cos.dims()[1]);
    let cv = cos.to_vec_f64();
    let fy = target.to_vec_f64();
    let mut slope = vec![1.0; b * c];
    let mut offset = vec![0.0; b * c];
    for i in 0..b {
        for k in 0..c {
            let hard = k != labels[i] && cv[i * c + k] > fy[i];
            if hard {
                let extra = h.t - 1.0;
                if h.adaptive {
                    slope[i * c + k] = h.t; // t·c + (t − 1)
                }
                offset[i * c + k] = extra;
            }
        }
    }
    let slope = Tensor::from_f64s(&slope, [b, c], cos.dtype())?;
    let offset = Tensor::from_f64s(&offset, [b, c], cos.dtype())?;
    cos.mul(&slope)?.add(&offset)
}
