//! Deep supervision in the manner of DeepID2+ (Sun, Wang, Tang 2015, "Deeply learned face
//! representations are sparse, selective, and robust"): besides the loss on the final
//! embedding, a loss is attached at several depths of the network, each through a small head
//! that turns that depth's feature map into an embedding, and the losses are summed with
//! per-depth weights. The extra gradient reaching the early layers directly eases training of
//! deep nets; at test time the heads are dropped.
//!
//! Shape legend: tap t [N, C_t, H_t, W_t] -> head: global average pool [N, C_t] -> FC
//! [N, D] (D = embedding size of the heads).
//!
//! ```text
//! x -> stage1 -> stage2 -> stage3 -> stage4 -> … -> output  -> loss_final
//!          |         |         |
//!        head0     head1     head2                          -> loss_0, loss_1, loss_2
//! total = loss_final + Σ_i w_i·loss_i
//! ```
//!
//! Every backbone implements [`Backbone`]: `forward_with_taps` returns the output and the
//! feature map after each stage. [`DeeplySupervised`] owns a backbone and its heads; it is a
//! `Module` whose plain `forward` is the backbone's (evaluation ignores the heads), whose
//! parameters are the backbone's under their usual names plus `aux_heads.{tap}.fc.*`, the way
//! torchvision names GoogLeNet's auxiliary classifiers `aux1`, `aux2`.

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check::{self, Dim};
use crate::layers::Linear;
use crate::module::{
    join, set_children_mode, visit_children_buffers, visit_children_parameters, Children, Mode,
    Module,
};

/// A network that exposes its intermediate features ("taps").
pub trait Backbone: Module {
    /// The final output and the feature map after each stage, shallowest first.
    fn forward_with_taps(
        &mut self,
        x: &Tensor,
        tape: Option<&Tape>,
    ) -> Result<(Tensor, Vec<Tensor>)>;

    /// The channel count of each tap (what a head on it takes), shallowest first.
    fn tap_channels(&self) -> Vec<usize>;
}

/// Pool + FC: a tap [N, C, H, W] (or an already pooled [N, C]) to an embedding [N, D].
#[derive(Clone, Debug)]
pub struct TapHead {
    pub fc: Linear,
}

impl TapHead {
    /// A head from C channels to a D-dimensional embedding (PyTorch's default Linear init).
    pub fn new(channels: usize, dim: usize, dtype: DType, rng: &mut Rng) -> Result<TapHead> {
        Ok(TapHead {
            fc: Linear::new(channels, dim, true, dtype, rng)?,
        })
    }
}

impl Module for TapHead {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let c = Dim::Is(self.fc.in_features());
        let n = Dim::Any("N");
        let layer = format!(
            "TapHead({} -> {})",
            self.fc.in_features(),
            self.fc.out_features()
        );
        check::input(
            "TapHead",
            &layer,
            x,
            &[&[n, c, Dim::Any("H"), Dim::Any("W")], &[n, c]],
        )?;
        let pooled = match x.rank() {
            4 => ops::global_avg_pool(x)?,
            _ => x.clone(),
        };
        self.fc.forward(&pooled, tape)
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        self.fc.visit_parameters(&join(prefix, "fc"), f);
    }

    fn set_mode(&mut self, _mode: Mode) {}
}

/// A backbone with auxiliary heads on some of its taps, and the weights of their losses.
pub struct DeeplySupervised<B: Backbone> {
    pub backbone: B,
    /// (tap index, head), in increasing tap order.
    pub heads: Vec<(usize, TapHead)>,
    /// The loss weight of each head.
    pub weights: Vec<f64>,
}

impl<B: Backbone> DeeplySupervised<B> {
    /// Heads of embedding size `dim` on the given `taps` (indices into the backbone's taps),
    /// with loss weights `weights` (one per tap, finite and >= 0).
    pub fn new(
        backbone: B,
        taps: &[usize],
        dim: usize,
        weights: &[f64],
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<Self> {
        let channels = backbone.tap_channels();
        let increasing = taps.windows(2).all(|w| w[0] < w[1]);
        let in_range = taps.iter().all(|&t| t < channels.len());
        let good_weights = weights.iter().all(|w| w.is_finite() && *w >= 0.0);
        if !increasing || !in_range || taps.len() != weights.len() || !good_weights {
            return Err(check::config(
                "DeeplySupervised",
                format!(
                    "taps {taps:?} must be increasing indices below {} with one finite weight \
                     >= 0 each, got weights {weights:?}",
                    channels.len()
                ),
            ));
        }
        let heads = taps
            .iter()
            .map(|&t| Ok((t, TapHead::new(channels[t], dim, dtype, rng)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(DeeplySupervised {
            backbone,
            heads,
            weights: weights.to_vec(),
        })
    }

    /// The backbone's output and one auxiliary embedding [N, D] per head.
    pub fn forward_supervised(
        &mut self,
        x: &Tensor,
        tape: Option<&Tape>,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let (out, taps) = self.backbone.forward_with_taps(x, tape)?;
        let aux = self
            .heads
            .iter_mut()
            .map(|(t, head)| {
                let tap = taps.get(*t).ok_or_else(|| {
                    check::config(
                        "DeeplySupervised",
                        format!(
                            "a head on tap {t}, but the backbone has {} taps",
                            taps.len()
                        ),
                    )
                })?;
                head.forward(tap, tape)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((out, aux))
    }

    /// final_loss + Σ_i w_i·aux_losses[i] (one scalar loss per head).
    pub fn weighted_loss(&self, final_loss: &Tensor, aux_losses: &[Tensor]) -> Result<Tensor> {
        if aux_losses.len() != self.weights.len() {
            return Err(check::config(
                "DeeplySupervised",
                format!(
                    "{} auxiliary losses for {} heads",
                    aux_losses.len(),
                    self.weights.len()
                ),
            ));
        }
        let mut total = final_loss.clone();
        for (loss, &w) in aux_losses.iter().zip(&self.weights) {
            total = total.add(&loss.scale(w)?)?;
        }
        Ok(total)
    }

    fn head_children(&mut self) -> Children<'_> {
        self.heads
            .iter_mut()
            .map(|(t, h)| (format!("aux_heads.{t}"), h as &mut dyn Module))
            .collect()
    }
}

impl<B: Backbone> Module for DeeplySupervised<B> {
    /// The backbone alone (what evaluation runs).
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        self.backbone.forward(x, tape)
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        self.backbone.visit_parameters(prefix, f);
        visit_children_parameters(self.head_children(), prefix, f);
    }

    fn visit_buffers(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        self.backbone.visit_buffers(prefix, f);
        visit_children_buffers(self.head_children(), prefix, f);
    }

    fn set_mode(&mut self, mode: Mode) {
        self.backbone.set_mode(mode);
        set_children_mode(self.head_children(), mode);
    }
}
