//! Embedding helpers: L2 normalisation, flip test-time augmentation, pair scores.
//!
//! ```text
//! nrm(x)         = x / ‖x‖                      (a zero vector stays zero)
//! flip test      e = nrm(f(x) + f(flip x))       (insightface, LOSSES.md §13)
//! cosine score   s = ⟨nrm(e_a), nrm(e_b)⟩       (accumulated in f64)
//! L2² distance   d = ‖nrm(e_a) − nrm(e_b)‖²     (= 2 − 2 cos)
//! ```
//! Embeddings are `[N, D]` row-major `&[f32]`.

use crate::error::{Error, Result};

fn check_rows(emb: &[f32], dim: usize) -> Result<usize> {
    if dim == 0 || emb.len() % dim != 0 {
        return Err(Error::Invalid(format!(
            "{} values are not rows of dimension {dim}",
            emb.len()
        )));
    }
    Ok(emb.len() / dim)
}

/// `nrm(x)` in place, with the norm accumulated in f64.
pub fn l2_normalize(x: &mut [f32]) {
    let norm = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
    if norm > 0.0 {
        for v in x {
            *v = (*v as f64 / norm) as f32;
        }
    }
}

/// Every row of `[N, D]` embeddings divided by its norm.
pub fn normalize_rows(emb: &[f32], dim: usize) -> Result<Vec<f32>> {
    check_rows(emb, dim)?;
    let mut out = emb.to_vec();
    out.chunks_mut(dim).for_each(l2_normalize);
    Ok(out)
}

/// Flip test-time augmentation: `nrm(e + e_flip)` row by row, both `[N, D]`.
pub fn combine_flip(e: &[f32], e_flip: &[f32], dim: usize) -> Result<Vec<f32>> {
    check_rows(e, dim)?;
    if e.len() != e_flip.len() {
        return Err(Error::Invalid(format!(
            "flip embeddings have {} values, plain ones {}",
            e_flip.len(),
            e.len()
        )));
    }
    let mut out: Vec<f32> = e.iter().zip(e_flip).map(|(a, b)| a + b).collect();
    out.chunks_mut(dim).for_each(l2_normalize);
    Ok(out)
}

fn pair_rows<'a>(
    emb: &'a [f32],
    dim: usize,
    pairs: &[(usize, usize)],
) -> Result<Vec<(&'a [f32], &'a [f32])>> {
    let n = check_rows(emb, dim)?;
    pairs
        .iter()
        .map(|&(a, b)| {
            if a >= n || b >= n {
                return Err(Error::Invalid(format!(
                    "pair ({a}, {b}) outside {n} embeddings"
                )));
            }
            Ok((&emb[a * dim..(a + 1) * dim], &emb[b * dim..(b + 1) * dim]))
        })
        .collect()
}

fn norm(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt()
}

/// Cosine similarity of each pair of rows (0 when either row is zero).
pub fn cosine_scores(emb: &[f32], dim: usize, pairs: &[(usize, usize)]) -> Result<Vec<f64>> {
    Ok(pair_rows(emb, dim, pairs)?
        .into_iter()
        .map(|(a, b)| {
            let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let nn = norm(a) * norm(b);
            if nn > 0.0 {
                dot / nn
            } else {
                0.0
            }
        })
        .collect())
}

/// Squared L2 distance of each pair of rows after normalising each row (insightface's score).
pub fn sq_distances(emb: &[f32], dim: usize, pairs: &[(usize, usize)]) -> Result<Vec<f64>> {
    Ok(pair_rows(emb, dim, pairs)?
        .into_iter()
        .map(|(a, b)| {
            let (na, nb) = (norm(a), norm(b));
            let scale = |v: f32, n: f64| if n > 0.0 { v as f64 / n } else { 0.0 };
            a.iter()
                .zip(b)
                .map(|(&x, &y)| {
                    let d = scale(x, na) - scale(y, nb);
                    d * d
                })
                .sum()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_sum_is_renormalised() {
        // e = (3, 0), e_flip = (0, 4): sum (3, 4), norm 5.
        let out = combine_flip(&[3.0, 0.0], &[0.0, 4.0], 2).unwrap();
        assert_eq!(out, vec![0.6, 0.8]);
        assert!(combine_flip(&[1.0, 0.0], &[1.0], 2).is_err());
    }

    #[test]
    fn scores_by_hand() {
        let emb = [1.0, 0.0, 2.0, 2.0, 0.0, 0.0];
        let s = cosine_scores(&emb, 2, &[(0, 1), (0, 0), (0, 2)]).unwrap();
        assert!((s[0] - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s[1..], [1.0, 0.0]);
        let d = sq_distances(&emb, 2, &[(0, 1)]).unwrap();
        assert!((d[0] - (2.0 - 2.0 * 0.5f64.sqrt())).abs() < 1e-7);
        assert!(cosine_scores(&emb, 2, &[(0, 3)]).is_err());
        assert_eq!(normalize_rows(&[0.0, 5.0], 2).unwrap(), vec![0.0, 1.0]);
    }
}
