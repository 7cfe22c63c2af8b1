//! Verification pairs of the synthetic set, in 10 identity-disjoint folds (as LFW).
//!
//! The `verif_families` fresh families are shuffled (stream `(seed, VERIF, 0, 0)`) and dealt
//! round-robin to the folds, so no identity appears in two folds. Fold `k` (stream
//! `(seed, PAIRS, k, 0)`) takes `P` genuine pairs (two images of one identity) and `P`
//! impostor pairs: `⌊P/2⌋` siblings (same family, look-alikes) and the rest across families,
//! each drawn without repetition from all candidates. Pairs are listed fold by fold, genuine
//! first, as in `pairs.txt`.

use super::config::{SyntheticConfig, FOLDS};
use super::identity::tag;
use crate::data::rng::Rng;

/// `(image a, image b, same)` with image index `v · verif_images + k` for image `k` of
/// verification identity `v`.
pub fn verification_pairs(cfg: &SyntheticConfig) -> Vec<(usize, usize, bool)> {
    let (fs, imgs, p) = (cfg.verif_family_size, cfg.verif_images, cfg.pairs_per_fold);
    let mut families: Vec<usize> = (0..cfg.verif_families).collect();
    Rng::keyed(cfg.seed, tag::VERIF, 0, 0).shuffle(&mut families);
    let image = |v: usize, k: usize| v * imgs + k;
    let mut out = Vec::with_capacity(2 * p * FOLDS);
    for fold in 0..FOLDS {
        let fams: Vec<usize> = families.iter().skip(fold).step_by(FOLDS).copied().collect();
        let members = |f: usize| f * fs..(f + 1) * fs;
        let (mut genuine, mut siblings, mut across) = (Vec::new(), Vec::new(), Vec::new());
        for &f in &fams {
            for v in members(f) {
                for a in 0..imgs {
                    for b in a + 1..imgs {
                        genuine.push((image(v, a), image(v, b), true));
                    }
                }
                for w in v + 1..members(f).end {
                    for a in 0..imgs {
                        for b in 0..imgs {
                            siblings.push((image(v, a), image(w, b), false));
                        }
                    }
                }
            }
        }
        for (n, &f) in fams.iter().enumerate() {
            for &g in &fams[n + 1..] {
                for v in members(f) {
                    for w in members(g) {
                        for a in 0..imgs {
                            for b in 0..imgs {
                                across.push((image(v, a), image(w, b), false));
                            }
                        }
                    }
                }
            }
        }
        let mut rng = Rng::keyed(cfg.seed, tag::PAIRS, fold as u64, 0);
        for (list, take) in [
            (&mut genuine, p),
            (&mut siblings, p / 2),
            (&mut across, p - p / 2),
        ] {
            rng.shuffle(list);
            out.extend(list.iter().take(take));
        }
    }
    out
}
