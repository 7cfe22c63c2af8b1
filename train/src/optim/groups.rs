//! Parameter groups: per-parameter settings chosen by name (PyTorch's `param_groups`).
//!
//! A group selects parameters with a predicate on the name and the tensor, and overrides the
//! optimiser's settings for them. The two uses that face-recognition training needs:
//!
//! - **no weight decay on biases and normalisation parameters** (insightface, timm: decaying a
//!   batch-norm scale towards 0 fights the normalisation, decaying a bias has no regularising
//!   effect): [`ParamGroup::no_weight_decay`];
//! - **its own learning rate for the classifier of a margin head** (insightface's partial-FC
//!   `W` trains with its own LR): [`ParamGroup::new`] with [`ParamGroup::lr_mult`].
//!
//! The first group whose predicate accepts a parameter applies; a parameter no group takes
//! gets the optimiser's own settings (learning-rate multiplier 1).

use std::fmt;
use std::sync::Arc;

use anglegrad_engine::{Error, Result, Tensor};

/// The predicate a group selects its parameters with: `(name, tensor) -> bool`.
pub type Selector = Arc<dyn Fn(&str, &Tensor) -> bool + Send + Sync>;

/// Settings for the parameters a predicate selects.
#[derive(Clone)]
pub struct ParamGroup {
    /// A name for messages and logs ("no_decay", "head").
    pub label: String,
    select: Selector,
    /// The group's learning rate is `lr_mult` × the learning rate given to `step`.
    pub lr_mult: f64,
    /// Replaces the optimiser's weight decay for this group when set.
    pub weight_decay: Option<f64>,
}

impl ParamGroup {
    /// A group of the parameters `select` accepts, with the optimiser's settings until
    /// overridden by [`ParamGroup::lr_mult`] or [`ParamGroup::weight_decay`].
    pub fn new(
        label: impl Into<String>,
        select: impl Fn(&str, &Tensor) -> bool + Send + Sync + 'static,
    ) -> ParamGroup {
        ParamGroup {
            label: label.into(),
            select: Arc::new(select),
            lr_mult: 1.0,
            weight_decay: None,
        }
    }

    /// Biases, batch-norm / PReLU parameters and every other 1-d tensor, with weight decay 0
    /// (see [`select::bias_or_norm`]).
    pub fn no_weight_decay() -> ParamGroup {
        ParamGroup::new("no_decay", select::bias_or_norm).weight_decay(0.0)
    }

    /// Sets the learning-rate multiplier.
    pub fn lr_mult(mut self, lr_mult: f64) -> ParamGroup {
        self.lr_mult = lr_mult;
        self
    }

    /// Sets the group's weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> ParamGroup {
        self.weight_decay = Some(weight_decay);
        self
    }

    /// Checks that the multiplier and the decay are finite and ≥ 0.
    pub fn validate(&self) -> Result<()> {
        let wd = self.weight_decay.unwrap_or(0.0);
        if !(self.lr_mult.is_finite() && self.lr_mult >= 0.0 && wd.is_finite() && wd >= 0.0) {
            return Err(Error::invalid(
                "optimizer",
                format!(
                    "group {:?}: lr_mult and weight_decay must be finite and ≥ 0, got {} and {wd}",
                    self.label, self.lr_mult
                ),
            ));
        }
        Ok(())
    }

    /// Whether the group takes this parameter.
    pub fn selects(&self, name: &str, tensor: &Tensor) -> bool {
        (self.select)(name, tensor)
    }
}

impl fmt::Debug for ParamGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamGroup")
            .field("label", &self.label)
            .field("lr_mult", &self.lr_mult)
            .field("weight_decay", &self.weight_decay)
            .finish_non_exhaustive()
    }
}

/// The settings that apply to one parameter once its group is known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resolved {
    pub lr_mult: f64,
    pub weight_decay: f64,
}

/// The settings of the first group that selects `name`, else `(1, default_weight_decay)`.
pub fn resolve(
    groups: &[ParamGroup],
    name: &str,
    tensor: &Tensor,
    default_weight_decay: f64,
) -> Resolved {
    match groups.iter().find(|g| g.selects(name, tensor)) {
        Some(g) => Resolved {
            lr_mult: g.lr_mult,
            weight_decay: g.weight_decay.unwrap_or(default_weight_decay),
        },
        None => Resolved {
            lr_mult: 1.0,
            weight_decay: default_weight_decay,
        },
    }
}

/// Ready-made predicates for [`ParamGroup::new`].
pub mod select {
    use anglegrad_engine::Tensor;

    /// Names ending in `.bias` (or `bias`), names whose module starts with `bn`
    /// (`bn1.weight`, `layer1.0.bn2.weight`), and every tensor of rank ≤ 1, which catches the
    /// norms that are not called `bn*` (torchvision's `downsample.1.weight`, PReLU slopes,
    /// insightface's `features.weight`).
    pub fn bias_or_norm(name: &str, tensor: &Tensor) -> bool {
        is_bias(name) || is_batch_norm(name) || tensor.rank() <= 1
    }

    /// `bias` or `….bias`.
    pub fn is_bias(name: &str) -> bool {
        last_component(name) == "bias"
    }

    /// A parameter of a module whose own name starts with `bn` (`bn1.weight`, `bn.bias`).
    pub fn is_batch_norm(name: &str) -> bool {
        let mut parts = name.rsplit('.');
        let _leaf = parts.next();
        parts.next().is_some_and(|module| module.starts_with("bn"))
    }

    /// Names starting with `prefix` (`"head."` for everything in a head).
    pub fn prefix(prefix: &str) -> impl Fn(&str, &Tensor) -> bool + Send + Sync {
        let prefix = prefix.to_string();
        move |name, _| name.starts_with(&prefix)
    }

    /// Exactly these names.
    pub fn names(names: &[&str]) -> impl Fn(&str, &Tensor) -> bool + Send + Sync {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        move |name, _| names.iter().any(|n| n == name)
    }

    fn last_component(name: &str) -> &str {
        name.rsplit('.').next().unwrap_or(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anglegrad_engine::DType;

    fn t(dims: &[usize]) -> Tensor {
        Tensor::zeros(dims, DType::F32).unwrap()
    }

    #[test]
    fn no_decay_takes_biases_norms_and_vectors_only() {
        let g = ParamGroup::no_weight_decay();
        assert!(g.selects("fc.bias", &t(&[10])));
        assert!(g.selects("bn1.weight", &t(&[64])));
        assert!(g.selects("layer1.0.bn2.bias", &t(&[64])));
        assert!(g.selects("layer2.0.downsample.1.weight", &t(&[128])));
        assert!(!g.selects("conv1.weight", &t(&[64, 3, 7, 7])));
        assert!(!g.selects("fc.weight", &t(&[10, 512])));
    }

    #[test]
    fn first_matching_group_wins_and_others_get_defaults() {
        let groups = [
            ParamGroup::new("head", select::prefix("head.")).lr_mult(10.0),
            ParamGroup::no_weight_decay(),
        ];
        let r = resolve(&groups, "head.bias", &t(&[3]), 5e-4);
        assert_eq!((r.lr_mult, r.weight_decay), (10.0, 5e-4));
        let r = resolve(&groups, "fc.bias", &t(&[3]), 5e-4);
        assert_eq!((r.lr_mult, r.weight_decay), (1.0, 0.0));
        let r = resolve(&groups, "fc.weight", &t(&[3, 2]), 5e-4);
        assert_eq!((r.lr_mult, r.weight_decay), (1.0, 5e-4));
    }

    #[test]
    fn names_selector_matches_exactly() {
        let sel = select::names(&["a.weight"]);
        assert!(sel("a.weight", &t(&[2, 2])));
        assert!(!sel("a.weight2", &t(&[2, 2])));
    }
}
