//! The Winograd transforms of one tile, eight channels at a time (one value per lane).
//!
//! Shape legend: α = 6; a patch or transformed tile is α x α lanes-vectors, an output tile
//! m x m (m = 4 for F(4x4, 3x3), 2 for F(2x2, 5x5)); a kernel is r x r (r = 3 or 5).
//!
//! Each 2-D transform is a 1-D transform of every column, then of every row (X ↦ P X Qᵀ as
//! P (Q Xᵀ)ᵀ). The 1-D transforms are the rows of the matrices in `super` written out, with
//! common sub-expressions shared; `super`'s tests check them against those matrices.

use std::ops::{Add, Mul, Sub};

use super::A;

/// Eight f32 lanes (eight channels of one pixel). Plain arrays: inside the AVX2 functions of
/// `super::dispatch` each operation compiles to one ymm instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct V8(pub [f32; 8]);

impl V8 {
    pub const ZERO: V8 = V8([0.0; 8]);

    #[inline(always)]
    pub fn load(s: &[f32]) -> V8 {
        let mut v = [0.0; 8];
        v.copy_from_slice(&s[..8]);
        V8(v)
    }

    #[inline(always)]
    pub fn store(self, d: &mut [f32]) {
        d[..8].copy_from_slice(&self.0);
    }

    #[inline(always)]
    fn zip(self, o: V8, f: impl Fn(f32, f32) -> f32) -> V8 {
        // An index loop, not `array::from_fn`: that one is not always inlined into the
        // transforms and leaves a memset and a call per operation.
        let mut v = [0.0; 8];
        #[allow(clippy::needless_range_loop)]
        for l in 0..8 {
            v[l] = f(self.0[l], o.0[l]);
        }
        V8(v)
    }
}

impl Add for V8 {
    type Output = V8;
    #[inline(always)]
    fn add(self, o: V8) -> V8 {
        self.zip(o, |a, b| a + b)
    }
}

impl Sub for V8 {
    type Output = V8;
    #[inline(always)]
    fn sub(self, o: V8) -> V8 {
        self.zip(o, |a, b| a - b)
    }
}

impl Mul<f32> for V8 {
    type Output = V8;
    #[inline(always)]
    fn mul(self, c: f32) -> V8 {
        self.zip(V8([c; 8]), |a, b| a * b)
    }
}

/// Bᵀ d for one column d of a patch (points 0, 1, −1, 2, −2, ∞).
#[inline(always)]
pub(super) fn bt(d: [V8; A]) -> [V8; A] {
    let [d0, d1, d2, d3, d4, d5] = d;
    let (s12, m12) = (d1 + d2, d1 - d2);
    let (d42, d31) = (d4 - d2, d3 - d1);
    [
        d0 * 4.0 - d2 * 5.0 + d4,
        (d3 + d4) - s12 * 4.0,
        (d4 - d3) + m12 * 4.0,
        d42 + d31 * 2.0,
        d42 - d31 * 2.0,
        d1 * 4.0 - d3 * 5.0 + d5,
    ]
}

/// V = Bᵀ d B of a 6 x 6 patch given as rows `d[a][b]`; returns V[i][j].
#[inline(always)]
pub(super) fn input_tile(d: &[[V8; A]; A]) -> [[V8; A]; A] {
    // Columns first: t[i][b] = (Bᵀ d)[i][b].
    let mut t = [[V8::ZERO; A]; A];
    for b in 0..A {
        let col = bt([d[0][b], d[1][b], d[2][b], d[3][b], d[4][b], d[5][b]]);
        for i in 0..A {
            t[i][b] = col[i];
        }
    }
    // Then rows: V[i] = Bᵀ t[i] (V = t B, and B is Bᵀ transposed).
    let mut v = [[V8::ZERO; A]; A];
    for i in 0..A {
        v[i] = bt(t[i]);
    }
    v
}

/// Aᵀ m for one column of a transformed tile: m outputs of F(m, r).
#[inline(always)]
fn at<const M: usize>(v: [V8; A]) -> [V8; M] {
    let [v0, v1, v2, v3, v4, v5] = v;
    let (s12, m12, s34, m34) = (v1 + v2, v1 - v2, v3 + v4, v3 - v4);
    let mut out = [V8::ZERO; M];
    if M == 4 {
        out[0] = v0 + s12 + s34;
        out[1] = m12 + m34 * 2.0;
        out[2] = s12 + s34 * 4.0;
        out[3] = m12 + m34 * 8.0 + v5;
    } else {
        out[0] = v0 + s12 + s34;
        out[1] = m12 + m34 * 2.0 + v5;
    }
    out
}

/// Y = Aᵀ M A: the m x m outputs of a transformed tile M[i][j].
#[inline(always)]
pub(super) fn output_tile<const M: usize>(mt: &[[V8; A]; A]) -> [[V8; M]; M] {
    // Rows first: z[i][c] = (M A)[i][c] = Aᵀ applied to row i.
    let mut z = [[V8::ZERO; M]; A];
    for i in 0..A {
        z[i] = at::<M>(mt[i]);
    }
    // Then columns: Y[r][c] = Σ_i Aᵀ[r][i] z[i][c].
    let mut y = [[V8::ZERO; M]; M];
    for c in 0..M {
        let col = at::<M>([z[0][c], z[1][c], z[2][c], z[3][c], z[4][c], z[5][c]]);
        for r in 0..M {
            y[r][c] = col[r];
        }
    }
    y
}

/// A g for one column g of an m x m output-gradient tile (the adjoint of [`at`]).
#[inline(always)]
fn a<const M: usize>(g: [V8; M]) -> [V8; A] {
    if M == 4 {
        let [g0, g1, g2, g3] = [g[0], g[1], g[2], g[3]];
        let (e02, e13, f02, f13) = (g0 + g2, g1 + g3, g0 + g2 * 4.0, g1 * 2.0 + g3 * 8.0);
        [g0, e02 + e13, e02 - e13, f02 + f13, f02 - f13, g3]
    } else {
        let [g0, g1] = [g[0], g[1]];
        [g0, g0 + g1, g0 - g1, g0 + g1 * 2.0, g0 - g1 * 2.0, g1]
    }
}

/// Ŷ = A ∂Y Aᵀ: the transformed tile of an m x m output gradient ∂Y[r][c].
#[inline(always)]
pub(super) fn grad_tile<const M: usize>(dy: &[[V8; M]; M]) -> [[V8; A]; A] {
    // Columns first: e[i][c] = (A ∂Y)[i][c].
    let mut e = [[V8::ZERO; M]; A];
    for c in 0..M {
        let mut col_in = [V8::ZERO; M];
        for r in 0..M {
            col_in[r] = dy[r][c];
        }
        let col = a::<M>(col_in);
        for i in 0..A {
            e[i][c] = col[i];
        }
    }
    // Then rows: Ŷ[i] = A e[i].
    let mut out = [[V8::ZERO; A]; A];
    for i in 0..A {
        out[i] = a::<M>(e[i]);
    }
    out
}

/// G g for one column g of an r x r kernel (`g` holds r values; `gm` is G, α x r).
#[inline(always)]
fn g_col(gm: &[[f32; 5]; A], r: usize, g: &[V8; 5]) -> [V8; A] {
    let mut out = [V8::ZERO; A];
    for (i, o) in out.iter_mut().enumerate() {
        for k in 0..r {
            if gm[i][k] != 0.0 {
                *o = *o + g[k] * gm[i][k];
            }
        }
    }
    out
}

/// U = G g Gᵀ of an r x r kernel g[a][b] (rows a); returns U[i][j].
#[inline(always)]
pub(super) fn kernel_tile(gm: &[[f32; 5]; A], r: usize, g: &[[V8; 5]; 5]) -> [[V8; A]; A] {
    // Columns: t[i][b] = (G g)[i][b].
    let mut t = [[V8::ZERO; 5]; A];
    for b in 0..r {
        let col = g_col(gm, r, &[g[0][b], g[1][b], g[2][b], g[3][b], g[4][b]]);
        for i in 0..A {
            t[i][b] = col[i];
        }
    }
    // Rows: U[i] = G t[i] (U = t Gᵀ).
    let mut u = [[V8::ZERO; A]; A];
    for i in 0..A {
        u[i] = g_col(gm, r, &t[i]);
    }
    u
}

/// Gᵀ u for one column u of a transformed tile (the adjoint of [`g_col`]): r values.
#[inline(always)]
fn gt_col(gm: &[[f32; 5]; A], r: usize, u: &[V8; A]) -> [V8; 5] {
    let mut out = [V8::ZERO; 5];
    for (k, o) in out.iter_mut().enumerate().take(r) {
        for i in 0..A {
            if gm[i][k] != 0.0 {
                *o = *o + u[i] * gm[i][k];
            }
        }
    }
    out
}

/// ∂g = Gᵀ ∂U G of a transformed kernel gradient ∂U[i][j]; returns ∂g[a][b] (r x r used).
#[inline(always)]
pub(super) fn kernel_grad(gm: &[[f32; 5]; A], r: usize, du: &[[V8; A]; A]) -> [[V8; 5]; 5] {
    // Columns: e[a][j] = (Gᵀ ∂U)[a][j].
    let mut e = [[V8::ZERO; A]; 5];
    for j in 0..A {
        let col = gt_col(
            gm,
            r,
            &[du[0][j], du[1][j], du[2][j], du[3][j], du[4][j], du[5][j]],
        );
        for a in 0..5 {
            e[a][j] = col[a];
        }
    }
    // Rows: ∂g[a] = Gᵀ e[a] (∂g = e G).
    let mut dg = [[V8::ZERO; 5]; 5];
    for a in 0..r {
        dg[a] = gt_col(gm, r, &e[a]);
    }
    dg
}
