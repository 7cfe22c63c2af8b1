//! Closed-set rank-k identification (DATASETS.md §5).
//!
//! Every probe's identity is enrolled in the gallery. With `S_i(c)` the cosine of probe `i` to
//! identity `c` and `y_i` its identity:
//!
//! ```text
//! rank_i = 1 + #{c ≠ y_i : S_i(c) ≥ S_i(y_i)}      (ties count against the probe)
//! rank-k = mean_i [rank_i ≤ k]
//! ```
//!
//! so collapsed embeddings (all equal) score rank-1 = 0, not 100 %. An identity is either one
//! template, `nrm(Σ nrm(e))` over its gallery entries ([`Gallery::Template`]), or all of its
//! entries with `S_i(c)` the best of them ([`Gallery::Entries`]). A probe never matches itself:
//! in leave-one-out use its own gallery entry is left out.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// How identities are represented in the gallery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gallery {
    /// One template per identity: the sum of its normalised embeddings, re-normalised.
    Template,
    /// Every entry kept; an identity scores the maximum over its entries.
    Entries,
}

/// Normalised rows in f64.
fn unit_rows(emb: &[f32], dim: usize) -> Result<Vec<Vec<f64>>> {
    if dim == 0 || emb.len() % dim != 0 {
        return Err(Error::Invalid(format!(
            "{} values are not rows of {dim}",
            emb.len()
        )));
    }
    Ok(emb
        .chunks(dim)
        .map(|r| {
            let n = r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            r.iter()
                .map(|&v| if n > 0.0 { v as f64 / n } else { 0.0 })
                .collect()
        })
        .collect())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct Enrolled {
    rows: Vec<Vec<f64>>,
    /// Dense identity of each gallery row.
    ids: Vec<usize>,
    /// The caller's label of each dense identity (sorted).
    labels: Vec<usize>,
    /// Template mode: Σ of each identity's unit rows, and the count.
    sums: Vec<Vec<f64>>,
    counts: Vec<usize>,
}

impl Enrolled {
    fn new(gallery: &[f32], labels: &[usize], dim: usize) -> Result<Enrolled> {
        let rows = unit_rows(gallery, dim)?;
        if rows.len() != labels.len() {
            return Err(Error::Invalid(format!(
                "{} gallery rows but {} labels",
                rows.len(),
                labels.len()
            )));
        }
        let mut uniq = labels.to_vec();
        uniq.sort_unstable();
        uniq.dedup();
        let ids: Vec<usize> = labels
            .iter()
            .map(|l| uniq.binary_search(l).unwrap_or(0))
            .collect();
        let mut sums = vec![vec![0.0; dim]; uniq.len()];
        let mut counts = vec![0; uniq.len()];
        for (row, &c) in rows.iter().zip(&ids) {
            sums[c].iter_mut().zip(row).for_each(|(s, v)| *s += v);
            counts[c] += 1;
        }
        Ok(Enrolled {
            rows,
            ids,
            labels: uniq,
            sums,
            counts,
        })
    }

    /// The rank of `probe` with identity `y`, leaving gallery row `exclude` out; `None` when
    /// `y` has no other entry.
    fn rank(
        &self,
        probe: &[f64],
        y: usize,
        exclude: Option<usize>,
        mode: Gallery,
    ) -> Option<usize> {
        let c_n = self.labels.len();
        let mut s = vec![f64::NEG_INFINITY; c_n];
        match mode {
            Gallery::Template => {
                for (c, s_c) in s.iter_mut().enumerate() {
                    // Only the probe's own identity loses a row (its own) in leave-one-out.
                    let without_probe: Vec<f64>;
                    let (sum, count) = match exclude.filter(|&e| self.ids[e] == c) {
                        Some(e) => {
                            let row = &self.rows[e];
                            without_probe =
                                self.sums[c].iter().zip(row).map(|(a, v)| a - v).collect();
                            (&without_probe, self.counts[c] - 1)
                        }
                        None => (&self.sums[c], self.counts[c]),
                    };
                    if count > 0 {
                        let n = dot(sum, sum).sqrt();
                        *s_c = if n > 0.0 { dot(probe, sum) / n } else { 0.0 };
                    }
                }
            }
            Gallery::Entries => {
                for (j, row) in self.rows.iter().enumerate() {
                    if Some(j) != exclude {
                        let c = self.ids[j];
                        s[c] = s[c].max(dot(probe, row));
                    }
                }
            }
        }
        if s[y] == f64::NEG_INFINITY {
            return None;
        }
        let beaten_by = (0..c_n)
            .filter(|&c| c != y && s[c] != f64::NEG_INFINITY && s[c] >= s[y])
            .count();
        Some(1 + beaten_by)
    }
}

/// Ranks of `probes` `[M, D]` against a separate `gallery` `[G, D]`. Every probe label must
/// be enrolled.
pub fn identification_ranks(
    gallery: &[f32],
    gallery_labels: &[usize],
    probes: &[f32],
    probe_labels: &[usize],
    dim: usize,
    mode: Gallery,
) -> Result<Vec<usize>> {
    let g = Enrolled::new(gallery, gallery_labels, dim)?;
    let p = unit_rows(probes, dim)?;
    if p.len() != probe_labels.len() {
        return Err(Error::Invalid(format!(
            "{} probes but {} labels",
            p.len(),
            probe_labels.len()
        )));
    }
    let mut ys = Vec::with_capacity(p.len());
    for (i, l) in probe_labels.iter().enumerate() {
        let y = g.labels.binary_search(l).map_err(|_| {
            Error::Eval(format!(
                "probe {i}: identity {l} is not enrolled in the gallery"
            ))
        })?;
        ys.push(y);
    }
    Ok(p.par_iter()
        .zip(&ys)
        .map(|(row, &y)| g.rank(row, y, None, mode).unwrap_or(usize::MAX))
        .collect())
}

/// Leave-one-out ranks: each row of `emb` probes the others. Rows whose identity has no other
/// row are skipped; the result pairs each ranked row's index with its rank.
pub fn leave_one_out_ranks(
    emb: &[f32],
    labels: &[usize],
    dim: usize,
    mode: Gallery,
) -> Result<Vec<(usize, usize)>> {
    let g = Enrolled::new(emb, labels, dim)?;
    Ok((0..g.rows.len())
        .into_par_iter()
        .filter_map(|i| g.rank(&g.rows[i], g.ids[i], Some(i), mode).map(|r| (i, r)))
        .collect())
}

/// rank-k rate: the share of ranks ≤ k.
pub fn rank_k(ranks: &[usize], k: usize) -> f64 {
    if ranks.is_empty() {
        return 0.0;
    }
    ranks.iter().filter(|&&r| r <= k).count() as f64 / ranks.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_hand() {
        // Gallery: identity 7 at (1, 0), identity 9 at (0, 1) and (0.6, 0.8).
        let gallery = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        let labels = [7, 9, 9];
        // Probe (0.8, 0.6) of identity 9. Entries: S(9) = max(0.6, 0.96) = 0.96, S(7) = 0.8:
        // rank 1. Template of 9 = nrm((0.6, 1.8)) = (0.316, 0.949): S(9) = 0.822 > 0.8: rank 1.
        // Probe (1, 0.1) of identity 9: S(7) = 0.995 beats both modes: rank 2.
        let probes = [0.8, 0.6, 1.0, 0.1];
        for mode in [Gallery::Entries, Gallery::Template] {
            let r = identification_ranks(&gallery, &labels, &probes, &[9, 9], 2, mode).unwrap();
            assert_eq!(r, vec![1, 2], "{mode:?}");
            assert_eq!(rank_k(&r, 1), 0.5);
        }
        assert!(
            identification_ranks(&gallery, &labels, &probes, &[9, 8], 2, Gallery::Template)
                .is_err()
        );
    }

    #[test]
    fn collapsed_embeddings_score_zero() {
        let emb = [1.0f32; 12];
        let labels = [0, 0, 1, 1, 2, 2];
        for mode in [Gallery::Entries, Gallery::Template] {
            let r = leave_one_out_ranks(&emb, &labels, 2, mode).unwrap();
            let ranks: Vec<usize> = r.iter().map(|x| x.1).collect();
            assert_eq!(ranks, vec![3; 6]);
            assert_eq!(rank_k(&ranks, 1), 0.0);
        }
    }

    #[test]
    fn leave_one_out_never_matches_itself() {
        // Two identities, each one row near the other's: without self-exclusion each probe
        // would find itself at cosine 1. Identity 2 has one row: skipped.
        let emb = [1.0, 0.0, 0.9, 0.1, 0.1, 0.9, 0.0, 1.0, 0.7, 0.7];
        let labels = [0, 1, 0, 1, 2];
        let r = leave_one_out_ranks(&emb, &labels, 2, Gallery::Entries).unwrap();
        // Row 0 (1,0) of id 0: its other entry (0.1,0.9) scores 0.11, id 1's (0.9,0.1) 0.99,
        // id 2's (0.7,0.7) 0.707: rank 3.
        assert_eq!(r[0], (0, 3));
        assert_eq!(r.len(), 4);
    }
}
