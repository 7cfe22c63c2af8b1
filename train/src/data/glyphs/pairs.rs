//! Look-alike groups, folds and pairs of the glyph benchmark (DATASETS.md §3.1).
//!
//! - **Groups**: walk the test identities in a seeded order; an ungrouped one opens a group with
//!   its 4 most similar ungrouped identities (similarity = raw-pixel cosine of clean renderings
//!   in `noto_sans_r`; ties to the lower index). Group `g` goes to fold `g mod 10`, so folds are
//!   identity-disjoint (1 000 identities: 200 groups of 5, 100 identities per fold).
//! - **Per fold** (stream `(seed, PAIRS, fold, 0)`): 300 genuine pairs, 3 distinct pairs of test
//!   faces per identity (two faces are two styles: always cross-style); 150 look-alike impostors
//!   (`c1` random in the fold, `c2` among the 5 identities of the fold most similar to `c1`) and
//!   150 random impostors (`c1 ≠ c2` random in the fold), both with two different faces; no pair
//!   twice; the fold's lines shuffled.

use crate::data::rng::Rng;

/// Stream tags of the glyph benchmark.
pub(crate) mod tag {
    pub const GROUPS: u64 = 0x4752_4F55_5053; // "GROUPS"
    pub const PAIRS: u64 = 0x4750_4149_5253; // "GPAIRS"
    pub const MISALIGN: u64 = 0x4D49_5341_4C49; // "MISALI"
}

/// Folds, identities per group, pairs of each kind per fold.
pub const FOLDS: usize = 10;
pub const GROUP: usize = 5;
pub const GENUINE_PER_IDENTITY: usize = 3;

/// The kind of a pair, for the per-kind AUCs of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairKind {
    Genuine,
    LookAlike,
    Random,
}

/// A pair of test images: `(identity, face)` twice, identities 0-based among test identities,
/// faces 0-based among the test faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlyphPair {
    pub a: (usize, usize),
    pub b: (usize, usize),
    pub kind: PairKind,
}

/// Groups of [`GROUP`] identities from an `n × n` similarity matrix, in creation order.
pub fn look_alike_groups(similarity: &[f32], n: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::keyed(seed, tag::GROUPS, 0, 0).shuffle(&mut order);
    let mut grouped = vec![false; n];
    let mut groups = Vec::new();
    for &i in &order {
        if grouped[i] {
            continue;
        }
        grouped[i] = true;
        let mut free: Vec<usize> = (0..n).filter(|&j| !grouped[j]).collect();
        free.sort_by(|&a, &b| {
            similarity[i * n + b]
                .total_cmp(&similarity[i * n + a])
                .then(a.cmp(&b))
        });
        let mut group = vec![i];
        for &j in free.iter().take(GROUP - 1) {
            grouped[j] = true;
            group.push(j);
        }
        groups.push(group);
    }
    groups
}

/// The pairs of every fold, fold by fold (`2 · per_fold` each), from the groups.
pub fn glyph_pairs(
    similarity: &[f32],
    n: usize,
    faces: usize,
    per_fold: usize,
    seed: u64,
) -> Vec<GlyphPair> {
    let groups = look_alike_groups(similarity, n, seed);
    let mut out = Vec::with_capacity(2 * per_fold * FOLDS);
    for fold in 0..FOLDS {
        let ids: Vec<usize> = groups
            .iter()
            .skip(fold)
            .step_by(FOLDS)
            .flatten()
            .copied()
            .collect();
        let mut rng = Rng::keyed(seed, tag::PAIRS, fold as u64, 0);
        let mut lines: Vec<GlyphPair> = Vec::with_capacity(2 * per_fold);
        let mut seen = std::collections::HashSet::new();
        let mut key = |p: &GlyphPair| seen.insert((p.a.min(p.b), p.a.max(p.b)));
        let face_pairs: Vec<(usize, usize)> = (0..faces)
            .flat_map(|a| (a + 1..faces).map(move |b| (a, b)))
            .collect();
        'genuine: for &c in &ids {
            let mut fp = face_pairs.clone();
            rng.shuffle(&mut fp);
            for &(fa, fb) in fp.iter().take(GENUINE_PER_IDENTITY) {
                if lines.len() == per_fold {
                    break 'genuine;
                }
                let p = GlyphPair {
                    a: (c, fa),
                    b: (c, fb),
                    kind: PairKind::Genuine,
                };
                key(&p);
                lines.push(p);
            }
        }
        let two_faces = |rng: &mut Rng| {
            let fa = rng.below(faces);
            let fb = (fa + 1 + rng.below(faces - 1)) % faces;
            (fa, fb)
        };
        let look_alikes = per_fold / 2;
        let mut made = 0;
        while made < per_fold {
            let c1 = ids[rng.below(ids.len())];
            let (kind, c2) = if made < look_alikes {
                let mut near: Vec<usize> = ids.iter().copied().filter(|&c| c != c1).collect();
                near.sort_by(|&a, &b| {
                    similarity[c1 * n + b]
                        .total_cmp(&similarity[c1 * n + a])
                        .then(a.cmp(&b))
                });
                (PairKind::LookAlike, near[rng.below(GROUP.min(near.len()))])
            } else {
                let c2 = ids[rng.below(ids.len())];
                (PairKind::Random, c2)
            };
            let (fa, fb) = two_faces(&mut rng);
            let p = GlyphPair {
                a: (c1, fa),
                b: (c2, fb),
                kind,
            };
            if c1 != c2 && key(&p) {
                lines.push(p);
                made += 1;
            }
        }
        rng.shuffle(&mut lines);
        out.extend(lines);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identities on a line: similarity falls with distance, so groups are runs of neighbours.
    fn line_similarity(n: usize) -> Vec<f32> {
        (0..n * n)
            .map(|k| -((k / n) as f32 - (k % n) as f32).abs())
            .collect()
    }

    #[test]
    fn groups_are_disjoint_nearest_neighbours() {
        let n = 100;
        let groups = look_alike_groups(&line_similarity(n), n, 0x61F);
        assert_eq!(groups.len(), 20);
        let mut all: Vec<usize> = groups.concat();
        all.sort();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        // The first group is its opener and the 4 nearest on the line.
        let g = &groups[0];
        let spread = g.iter().max().unwrap() - g.iter().min().unwrap();
        assert_eq!(spread, 4, "{g:?}");
    }

    #[test]
    fn folds_hold_the_pair_kinds_with_no_repeat() {
        let n = 200; // 40 groups, 20 identities per fold
        let per_fold = 40;
        let pairs = glyph_pairs(&line_similarity(n), n, 6, per_fold, 0x61F);
        assert_eq!(pairs.len(), 2 * per_fold * FOLDS);
        let groups = look_alike_groups(&line_similarity(n), n, 0x61F);
        let fold_of: std::collections::HashMap<usize, usize> = groups
            .iter()
            .enumerate()
            .flat_map(|(g, ids)| ids.iter().map(move |&i| (i, g % FOLDS)))
            .collect();
        for (k, fold) in pairs.chunks(2 * per_fold).enumerate() {
            let count = |kind| fold.iter().filter(|p| p.kind == kind).count();
            assert_eq!(
                (
                    count(PairKind::Genuine),
                    count(PairKind::LookAlike),
                    count(PairKind::Random)
                ),
                (40, 20, 20)
            );
            for p in fold {
                assert_eq!((fold_of[&p.a.0], fold_of[&p.b.0]), (k, k));
                assert_ne!(p.a.1, p.b.1, "always two different faces");
                assert_eq!(p.a.0 == p.b.0, p.kind == PairKind::Genuine);
                if p.kind == PairKind::LookAlike {
                    // c2 is among the 5 identities of the fold nearest to c1 on the line.
                    let mut near: Vec<usize> = fold_of
                        .iter()
                        .filter(|&(&c, &f)| f == k && c != p.a.0)
                        .map(|(&c, _)| c)
                        .collect();
                    near.sort_by_key(|&c| (c.abs_diff(p.a.0), c));
                    assert!(
                        near[..GROUP].contains(&p.b.0),
                        "look-alike {p:?} is not near"
                    );
                }
            }
            let mut keys: Vec<_> = fold.iter().map(|p| (p.a.min(p.b), p.a.max(p.b))).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), fold.len());
        }
    }
}
