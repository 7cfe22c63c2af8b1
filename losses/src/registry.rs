//! Every loss by name, with its parameters and defaults: the table of LOSSES.md §16. Used by
//! the `loss_eval` tool and the training example to pick a loss from the command line.
//!
//! A [`LossSpec`] says what a loss is called, its `param=default` pairs, the tensors it reads
//! and the inputs it differentiates. [`configure`] checks the user's parameters (an unknown
//! loss, parameter or value is an error that names it) and returns a [`ConfiguredLoss`] that
//! computes the loss from a [`LossInputs`].

use std::collections::BTreeMap;

use anglegrad_engine::{Error, Result, Tensor};
use anglegrad_ops::{Fallback, GradientMode};

use crate::center::{center_loss, CenterMode};
use crate::contrastive::Contrastive;
use crate::ddl::Ddl;
use crate::deepid2::DeepId2;
use crate::focal::Focal;
use crate::large_margin::{LargeMargin, Variant};
use crate::range::Range;
use crate::softmax::{linear_logits, softmax_loss};
use crate::sv_softmax::{sv_softmax, SvBase};
use crate::triplet::{Mining, Reduction, Triplet};
use crate::{arcface, cosface, normface};

/// One loss of the registry.
#[derive(Clone, Copy, Debug)]
pub struct LossSpec {
    pub name: &'static str,
    /// (parameter, default) pairs.
    pub params: &'static [(&'static str, &'static str)],
    /// The tensors it reads ([x] marks an optional one).
    pub reads: &'static [&'static str],
    /// The float inputs it differentiates (optional ones only when present).
    pub differentiates: &'static [&'static str],
    /// Where the defaults come from.
    pub source: &'static str,
}

const SOFTMAX_READS: &[&str] = &["embeddings", "labels", "weight", "[bias]"];
const LINEAR_GRADS: &[&str] = &["embeddings", "weight", "bias"];
const HEAD_READS: &[&str] = &["embeddings", "labels", "weight"];
const HEAD_GRADS: &[&str] = &["embeddings", "weight"];
const PAIR_READS: &[&str] = &["embeddings", "labels"];
const PAIR_GRADS: &[&str] = &["embeddings"];

/// The losses of LOSSES.md §16, in its order.
pub const LOSSES: &[LossSpec] = &[
    LossSpec {
        name: "softmax",
        params: &[],
        reads: SOFTMAX_READS,
        differentiates: LINEAR_GRADS,
        source: "-",
    },
    LossSpec {
        name: "focal",
        params: &[("gamma", "2.0"), ("alpha", "1.0")],
        reads: SOFTMAX_READS,
        differentiates: LINEAR_GRADS,
        source: "F-Softmax baseline (SV-X loss.py)",
    },
    LossSpec {
        name: "deepid2",
        params: &[("lambda", "0.05"), ("m", "1.0")],
        reads: SOFTMAX_READS,
        differentiates: LINEAR_GRADS,
        source: "paper lambda; m ours",
    },
    LossSpec {
        name: "contrastive",
        params: &[("m_pos", "0.0"), ("m_neg", "1.0")],
        reads: PAIR_READS,
        differentiates: PAIR_GRADS,
        source: "PML",
    },
    LossSpec {
        name: "triplet",
        params: &[
            ("alpha", "0.2"),
            ("squared", "true"),
            ("mining", "semihard"),
            ("reduction", "sum"),
        ],
        reads: PAIR_READS,
        differentiates: PAIR_GRADS,
        source: "FaceNet paper",
    },
    LossSpec {
        name: "lsoftmax",
        params: &[("m", "4"), ("lambda", "0.0")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "reference MNIST config",
    },
    LossSpec {
        name: "sphereface",
        params: &[("m", "4"), ("lambda", "0.0")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "paper",
    },
    LossSpec {
        name: "normface",
        params: &[("s", "10.0")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "reference (initial s)",
    },
    LossSpec {
        name: "c_contrastive",
        params: &[("m", "1.0")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "NormFace prototxt",
    },
    LossSpec {
        name: "c_triplet",
        params: &[("m", "0.8")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "NormFace prototxt",
    },
    LossSpec {
        name: "cosface",
        params: &[("s", "64.0"), ("m", "0.35")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "CosFace paper, PML",
    },
    LossSpec {
        name: "arcface",
        params: &[
            ("s", "64.0"),
            ("m", "0.5"),
            ("gradient", "exact"),
            ("fallback", "threshold"),
        ],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "paper; paper-era insightface",
    },
    LossSpec {
        name: "combined",
        params: &[("s", "64.0"), ("m1", "1.0"), ("m2", "0.3"), ("m3", "0.2")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "insightface mxnet combined",
    },
    LossSpec {
        name: "center",
        params: &[],
        reads: &["embeddings", "labels", "centers"],
        differentiates: PAIR_GRADS,
        source: "paper (L_C)",
    },
    LossSpec {
        name: "range",
        params: &[
            ("k", "2"),
            ("alpha", "0.0001"),
            ("beta", "0.001"),
            ("m", "20000.0"),
            ("squared", "true"),
        ],
        reads: PAIR_READS,
        differentiates: PAIR_GRADS,
        source: "Caffe port literals",
    },
    LossSpec {
        name: "sv_softmax",
        params: &[("s", "32.0"), ("t", "1.2"), ("adaptive", "true")],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "official SV-X code",
    },
    LossSpec {
        name: "mv_am",
        params: &[
            ("s", "32.0"),
            ("m", "0.35"),
            ("t", "1.2"),
            ("adaptive", "true"),
        ],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "official SV-X code",
    },
    LossSpec {
        name: "mv_arc",
        params: &[
            ("s", "32.0"),
            ("m", "0.35"),
            ("t", "1.2"),
            ("adaptive", "true"),
        ],
        reads: HEAD_READS,
        differentiates: HEAD_GRADS,
        source: "official SV-X code",
    },
    LossSpec {
        name: "ddl",
        params: &[
            ("w_pos", "0.1"),
            ("w_neg", "0.02"),
            ("w_ord", "0.5"),
            ("tau", "0.0"),
        ],
        reads: &["embeddings", "labels", "teacher_embeddings"],
        differentiates: &["embeddings", "teacher_embeddings"],
        source: "TFace",
    },
];

/// The spec of a loss, or an error listing the known names.
pub fn spec(name: &str) -> Result<&'static LossSpec> {
    LOSSES.iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = LOSSES.iter().map(|s| s.name).collect();
        Error::invalid(
            "loss",
            format!("unknown loss {name:?}; known: {}", known.join(", ")),
        )
    })
}

/// The tensors a loss reads, by their names in LOSSES.md §16.
#[derive(Clone, Debug)]
pub struct LossInputs {
    pub embeddings: Tensor,
    pub labels: Vec<usize>,
    pub weight: Option<Tensor>,
    pub bias: Option<Tensor>,
    pub centers: Option<Tensor>,
    pub teacher_embeddings: Option<Tensor>,
}

impl LossInputs {
    /// The input of this name (`embeddings`, `weight`, ...), if present.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        match name {
            "embeddings" => Some(&self.embeddings),
            "weight" => self.weight.as_ref(),
            "bias" => self.bias.as_ref(),
            "centers" => self.centers.as_ref(),
            "teacher_embeddings" => self.teacher_embeddings.as_ref(),
            _ => None,
        }
    }

    /// Replaces the input of this name (used to put watched handles in place).
    pub fn set(&mut self, name: &str, t: Tensor) {
        match name {
            "embeddings" => self.embeddings = t,
            "weight" => self.weight = Some(t),
            "bias" => self.bias = Some(t),
            "centers" => self.centers = Some(t),
            "teacher_embeddings" => self.teacher_embeddings = Some(t),
            _ => {}
        }
    }

    fn require(&self, loss: &'static str, name: &str) -> Result<&Tensor> {
        self.get(name)
            .ok_or_else(|| Error::invalid(loss, format!("needs the input tensor {name:?}")))
    }
}

/// A loss with its parameters resolved.
#[derive(Clone, Debug)]
pub struct ConfiguredLoss {
    pub spec: &'static LossSpec,
    pub params: BTreeMap<&'static str, String>,
}

/// Resolves `given` (key, value) pairs against the loss's parameters; defaults fill the rest.
pub fn configure(name: &str, given: &[(String, String)]) -> Result<ConfiguredLoss> {
    let spec = spec(name)?;
    let mut params: BTreeMap<&'static str, String> = spec
        .params
        .iter()
        .map(|&(k, v)| (k, v.to_string()))
        .collect();
    for (key, value) in given {
        let Some(&(k, _)) = spec.params.iter().find(|(k, _)| k == key) else {
            let known: Vec<&str> = spec.params.iter().map(|(k, _)| *k).collect();
            return Err(Error::invalid(
                spec.name,
                format!(
                    "unknown parameter {key:?}; parameters: {}",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        params.insert(k, value.clone());
    }
    let configured = ConfiguredLoss { spec, params };
    configured.validate()?;
    Ok(configured)
}

impl ConfiguredLoss {
    fn raw(&self, key: &str) -> &str {
        self.params.get(key).map(String::as_str).unwrap_or("")
    }

    fn bad(&self, key: &str, expected: &str) -> Error {
        Error::invalid(
            self.spec.name,
            format!("parameter {key}={:?}: expected {expected}", self.raw(key)),
        )
    }

    /// A real-valued parameter (`64`, `64.0`, `0.35`, `1e-4`).
    pub fn f64(&self, key: &str) -> Result<f64> {
        self.raw(key)
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.bad(key, "a finite number"))
    }

    /// An integer parameter (`4` or `4.0`).
    pub fn integer(&self, key: &str) -> Result<u32> {
        let v = self.f64(key).map_err(|_| self.bad(key, "a whole number"))?;
        if v.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&v) {
            Ok(v as u32)
        } else {
            Err(self.bad(key, "a whole number >= 0"))
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.raw(key) {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.bad(key, "true or false")),
        }
    }

    fn choice<T: Copy>(&self, key: &str, options: &[(&str, T)]) -> Result<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        options
            .iter()
            .find(|(n, _)| *n == self.raw(key))
            .map(|&(_, v)| v)
            .ok_or_else(|| self.bad(key, &format!("one of {}", names.join(", "))))
    }

    /// Parses every parameter once, so a bad value fails before any computation.
    fn validate(&self) -> Result<()> {
        for &(key, default) in self.spec.params {
            match key {
                "squared" | "adaptive" => drop(self.bool(key)?),
                "mining" => drop(self.mining()?),
                "reduction" => drop(self.reduction()?),
                "gradient" => drop(self.gradient()?),
                "fallback" => drop(self.fallback()?),
                "k" => drop(self.integer(key)?),
                "m" if !default.contains('.') => drop(self.integer(key)?),
                _ => drop(self.f64(key)?),
            }
        }
        Ok(())
    }

    fn mining(&self) -> Result<Mining> {
        self.choice(
            "mining",
            &[
                ("all", Mining::All),
                ("semihard", Mining::SemiHard),
                ("batch_hard", Mining::BatchHard),
            ],
        )
    }
    fn reduction(&self) -> Result<Reduction> {
        self.choice(
            "reduction",
            &[
                ("sum", Reduction::Sum),
                ("mean", Reduction::Mean),
                ("avg_nonzero", Reduction::AvgNonZero),
            ],
        )
    }
    fn gradient(&self) -> Result<GradientMode> {
        self.choice(
            "gradient",
            &[
                ("exact", GradientMode::Exact),
                ("detached", GradientMode::Detached),
            ],
        )
    }
    fn fallback(&self) -> Result<Fallback> {
        self.choice(
            "fallback",
            &[
                ("threshold", Fallback::Threshold),
                ("easy_margin", Fallback::EasyMargin),
                ("none", Fallback::None),
            ],
        )
    }

    /// For the cosine-head losses (normface, cosface, arcface, combined), the head itself, so
    /// a training loop can run it fused (`MarginSoftmax::fused`); `None` for the others.
    pub fn margin_head(&self) -> Result<Option<crate::MarginSoftmax>> {
        Ok(Some(match self.spec.name {
            "normface" => normface::normface(self.f64("s")?),
            "cosface" => cosface::cosface(self.f64("s")?, self.f64("m")?),
            "arcface" => arcface::arcface(
                self.f64("s")?,
                self.f64("m")?,
                self.gradient()?,
                self.fallback()?,
            ),
            "combined" => arcface::combined(
                self.f64("s")?,
                self.f64("m1")?,
                self.f64("m2")?,
                self.f64("m3")?,
            ),
            _ => return Ok(None),
        }))
    }

    /// The loss value of the inputs (watch the inputs on a tape first to get gradients).
    pub fn loss(&self, inp: &LossInputs) -> Result<Tensor> {
        let name = self.spec.name;
        let x = &inp.embeddings;
        let y = &inp.labels[..];
        let weight = || inp.require(name, "weight");
        match name {
            "softmax" => softmax_loss(x, weight()?, inp.bias.as_ref(), y),
            "focal" => {
                let focal = Focal {
                    gamma: self.f64("gamma")?,
                    alpha: self.f64("alpha")?,
                };
                focal.loss(
                    &linear_logits("focal", x, weight()?, inp.bias.as_ref(), y)?,
                    y,
                )
            }
            "deepid2" => DeepId2 {
                lambda: self.f64("lambda")?,
                m: self.f64("m")?,
            }
            .loss(x, weight()?, inp.bias.as_ref(), y),
            "contrastive" => Contrastive {
                m_pos: self.f64("m_pos")?,
                m_neg: self.f64("m_neg")?,
            }
            .loss(x, y),
            "triplet" => Triplet {
                alpha: self.f64("alpha")?,
                squared: self.bool("squared")?,
                mining: self.mining()?,
                reduction: self.reduction()?,
                normalize: true,
            }
            .loss(x, y),
            "lsoftmax" | "sphereface" => LargeMargin {
                variant: if name == "lsoftmax" {
                    Variant::LSoftmax
                } else {
                    Variant::SphereFace
                },
                m: self.integer("m")?,
                lambda: self.f64("lambda")?,
            }
            .loss(x, weight()?, y),
            "normface" => normface::normface(self.f64("s")?).loss(name, x, weight()?, y),
            "c_contrastive" => normface::c_contrastive(x, weight()?, y, self.f64("m")?),
            "c_triplet" => normface::c_triplet(x, weight()?, y, self.f64("m")?),
            "cosface" => {
                cosface::cosface(self.f64("s")?, self.f64("m")?).loss(name, x, weight()?, y)
            }
            "arcface" => arcface::arcface(
                self.f64("s")?,
                self.f64("m")?,
                self.gradient()?,
                self.fallback()?,
            )
            .loss(name, x, weight()?, y),
            "combined" => arcface::combined(
                self.f64("s")?,
                self.f64("m1")?,
                self.f64("m2")?,
                self.f64("m3")?,
            )
            .loss(name, x, weight()?, y),
            "center" => center_loss(x, inp.require(name, "centers")?, y, CenterMode::Paper),
            "range" => Range {
                k: self.integer("k")? as usize,
                alpha: self.f64("alpha")?,
                beta: self.f64("beta")?,
                m: self.f64("m")?,
                squared: self.bool("squared")?,
            }
            .loss(x, y),
            "sv_softmax" | "mv_am" | "mv_arc" => {
                let base = match name {
                    "sv_softmax" => SvBase::Plain,
                    "mv_am" => SvBase::Additive { m: self.f64("m")? },
                    _ => SvBase::Angular { m: self.f64("m")? },
                };
                sv_softmax(self.f64("s")?, base, self.f64("t")?, self.bool("adaptive")?).loss(
                    name,
                    x,
                    weight()?,
                    y,
                )
            }
            "ddl" => {
                let ddl = Ddl {
                    w_pos: self.f64("w_pos")?,
                    w_neg: self.f64("w_neg")?,
                    w_ord: self.f64("w_ord")?,
                    tau: self.f64("tau")?,
                    ..Ddl::default()
                };
                ddl.loss(x, inp.require(name, "teacher_embeddings")?, y)
            }
            other => Err(Error::invalid(
                "loss",
                format!("no implementation for {other:?}"),
            )),
        }
    }
}
