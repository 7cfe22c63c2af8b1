//! Data: file formats, the project RNG, the synthetic identities (DATASETS.md §0–§4).
//!
//! | module | what |
//! |---|---|
//! | [`rng`] | SplitMix64 and keyed streams (§0) |
//! | [`images`] | u8 image batches `[N, C, H, W]` and vector samples |
//! | [`glyphs`] | glyph identities: CJK characters in font styles, the open-set benchmark (§3.1) |
//! | [`idx`] | IDX / IDX.gz (MNIST, Fashion-MNIST) (§1.1) |
//! | [`align`] | 5-landmark similarity alignment onto the 112×112 template (§1.6) |
//! | [`codec`] | JPEG / PNG by magic, decode and encode |
//! | [`fashion_mnist`] | Fashion-MNIST loader and its closed-set pairs (§2, §3.2) |
//! | [`folder`] | `root/<identity>/<image>` folders (§1.2) |
//! | [`pairs`] | LFW `pairs.txt`, View 1 and View 2 (§1.3) |
//! | [`verification_bin`] | insightface verification `.bin` pickles (§1.4) |
//! | [`synthetic`] | the synthetic identities generator (§4) |
//! | [`recordio`] | MXNet RecordIO physical records (§1.5) |
//! | [`mxpack`] | `train.rec` + `.idx` + `property` face packs, identity index (§1.5) |

pub mod align;
pub(crate) mod bytes;
pub mod codec;
pub mod fashion_mnist;
pub mod folder;
pub mod glyphs;
pub mod idx;
pub mod images;
pub mod mxpack;
pub mod pairs;
pub mod recordio;
pub mod rng;
pub mod source;
pub mod synthetic;
pub mod verification_bin;

pub use images::{Images, Samples};
pub use rng::Rng;

/// `ANGLEGRAD_REQUIRE_DATA=1` (CI): a missing optional data set (Fashion-MNIST, the CJK fonts)
/// is a failure, not a skip.
pub fn data_required() -> bool {
    std::env::var("ANGLEGRAD_REQUIRE_DATA").is_ok_and(|v| v == "1")
}
