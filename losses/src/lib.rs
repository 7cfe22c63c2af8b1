//! # anglegrad-losses
//!
//! Every loss of the face-recognition papers, exact to ../shared/LOSSES.md. One file per
//! family; each file's docs give the formula, the paper, the defaults and where the reference
//! code differs. `losses/README.md` has the table of all of them.
//!
//! | file | losses |
//! |---|---|
//! | [`softmax`] | softmax cross-entropy (the baseline) |
//! | [`focal`] | focal loss / F-Softmax |
//! | [`deepid2`] | DeepID2 identification + verification, DeepID2+ deep supervision |
//! | [`contrastive`] | contrastive (PML two-margin form) |
//! | [`triplet`] | FaceNet triplet with all / semi-hard / batch-hard mining |
//! | [`large_margin`] | L-Softmax and SphereFace (A-Softmax), λ annealing |
//! | [`normface`] | NormFace, C-contrastive, C-triplet |
//! | [`margin_softmax`] | the shared cosine head with a target margin φ |
//! | [`cosface`] | CosFace / AM-Softmax |
//! | [`arcface`] | ArcFace and the combined margin |
//! | [`center`] | center loss and the centre update |
//! | [`range`] | range loss |
//! | [`sv_softmax`] | SV-Softmax, MV-AM, MV-Arc |
//! | [`ddl`] | distribution distillation loss |
//! | [`registry`] | every loss by name with its parameters (what `loss_eval` and `train` use) |

pub mod arcface;
pub mod center;
pub mod check;
pub mod contrastive;
pub mod cosface;
pub mod ddl;
pub mod deepid2;
pub mod focal;
pub mod large_margin;
pub mod margin_softmax;
pub mod normface;
pub mod pairs;
pub mod range;
pub mod registry;
pub mod softmax;
pub mod sv_softmax;
pub mod triplet;

pub use margin_softmax::{HardNegatives, Margin, MarginSoftmax};
