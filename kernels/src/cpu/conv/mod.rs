//! 2-D convolution (cross-correlation, as in PyTorch) on NCHW tensors: forward, backward-data,
//! backward-weight, backward-bias.
//!
//! Shape legend (see [`Conv2dParams`]):
//! - x  [N, Cin, H, W]          input
//! - w  [Cout, Cin/G, KH, KW]   weight, G = groups (G = Cin = Cout: depthwise)
//! - b  [Cout]                  bias (optional)
//! - y  [N, Cout, Ho, Wo]       output, Ho = (H + 2·ph - dh·(KH-1) - 1) / sh + 1 (same for Wo)
//! - dy, dx, dw, db: gradients, shaped like y, x, w, b.
//!
//! y[n, co, oh, ow] = b[co] + Σ_{ci, kh, kw} w[co, ci, kh, kw] ·
//!                    x[n, g·Cin/G + ci, oh·sh + kh·dh - ph, ow·sw + kw·dw - pw]
//! with g = co / (Cout/G) and x = 0 outside the image (zero padding).
//!
//! The `*_ref` functions are that formula as loops (the oracle). The entry points run the
//! convolution as GEMMs (see [`fast`]): y_n,g [Cout/G, Ho·Wo] = W_g [Cout/G, K] · col [K, Ho·Wo]
//! with K = Cin/G·KH·KW and col the "im2col" matrix of the image, which for stride 1 is never
//! built: its rows are contiguous windows of the padded image that the GEMM packs directly.

mod depthwise;
mod fast;
#[cfg(test)]
mod tests;
mod winograd;

use crate::Float;

/// Sizes and hyper-parameters of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Batch size N.
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    /// Kernel height KH and width KW.
    pub kh: usize,
    pub kw: usize,
    /// (sh, sw), each >= 1.
    pub stride: (usize, usize),
    /// (ph, pw): zeros added on each side.
    pub pad: (usize, usize),
    /// (dh, dw), each >= 1.
    pub dilation: (usize, usize),
    /// G, dividing both Cin and Cout.
    pub groups: usize,
}

impl Conv2dParams {
    /// A square convolution: kernel k x k, the same stride and padding on both axes,
    /// no dilation, one group.
    #[allow(clippy::too_many_arguments)]
    pub fn square(
        n: usize,
        c_in: usize,
        hw: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Self {
        Conv2dParams {
            n,
            c_in,
            h: hw,
            w: hw,
            c_out,
            kh: k,
            kw: k,
            stride: (stride, stride),
            pad: (pad, pad),
            dilation: (1, 1),
            groups: 1,
        }
    }

    /// Output height Ho.
    pub fn out_h(&self) -> usize {
        out_size(self.h, self.kh, self.stride.0, self.pad.0, self.dilation.0)
    }
    /// Output width Wo.
    pub fn out_w(&self) -> usize {
        out_size(self.w, self.kw, self.stride.1, self.pad.1, self.dilation.1)
    }
    /// Input channels per group, Cin/G.
    pub fn c_in_g(&self) -> usize {
        self.c_in / self.groups
    }
    /// Output channels per group, Cout/G.
    pub fn c_out_g(&self) -> usize {
        self.c_out / self.groups
    }
    /// Length K of one im2col column: Cin/G·KH·KW.
    pub fn k_len(&self) -> usize {
        self.c_in_g() * self.kh * self.kw
    }
    pub fn x_len(&self) -> usize {
        self.n * self.c_in * self.h * self.w
    }
    pub fn w_len(&self) -> usize {
        self.c_out * self.k_len()
    }
    pub fn y_len(&self) -> usize {
        self.n * self.c_out * self.out_h() * self.out_w()
    }
    /// FLOPs of the forward pass, 2·N·Cout·Ho·Wo·K (the peers' convention; backward = 2x).
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.c_out * self.out_h() * self.out_w()) as f64 * self.k_len() as f64
    }

    /// Panics with a clear message when the parameters make no sense.
    fn validate(&self) {
        assert!(
            self.groups > 0 && self.c_in % self.groups == 0 && self.c_out % self.groups == 0,
            "conv2d: groups {} must divide Cin {} and Cout {}",
            self.groups,
            self.c_in,
            self.c_out
        );
        assert!(
            self.stride.0 > 0 && self.stride.1 > 0 && self.dilation.0 > 0 && self.dilation.1 > 0,
            "conv2d: stride and dilation must be >= 1 ({self:?})"
        );
        assert!(
            self.kh > 0
                && self.kw > 0
                && self.h + 2 * self.pad.0 > self.dilation.0 * (self.kh - 1)
                && self.w + 2 * self.pad.1 > self.dilation.1 * (self.kw - 1),
            "conv2d: kernel larger than the padded input ({self:?})"
        );
    }
}

fn out_size(len: usize, k: usize, stride: usize, pad: usize, dil: usize) -> usize {
    (len + 2 * pad).saturating_sub(dil * (k - 1) + 1) / stride + 1
}

fn check_lens(p: &Conv2dParams, x: usize, w: usize, y: usize, what: &str) {
    p.validate();
    assert!(
        x == p.x_len() && w == p.w_len() && y == p.y_len(),
        "conv2d {what}: buffer lengths (x {x}, w {w}, y {y}) do not match {p:?} \
         (x {}, w {}, y {})",
        p.x_len(),
        p.w_len(),
        p.y_len()
    );
}

/// y = conv2d(x, w) + b. Fast path for f32/f64 (implicit-im2col GEMM, threaded over images).
pub fn conv2d_forward<T: Float>(p: &Conv2dParams, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    check_lens(p, x.len(), w.len(), y.len(), "forward");
    if let Some(b) = b {
        assert_eq!(b.len(), p.c_out, "conv2d forward: bias length");
    }
    if let (Some(x), Some(w), Some(y)) = (T::slice_f32(x), T::slice_f32(w), T::slice_f32_mut(y)) {
        fast::forward(p, x, w, b.and_then(T::slice_f32), y);
    } else if let (Some(x), Some(w), Some(y)) =
        (T::slice_f64(x), T::slice_f64(w), T::slice_f64_mut(y))
    {
        fast::forward(p, x, w, b.and_then(T::slice_f64), y);
    } else {
        conv2d_forward_ref(p, x, w, b, y);
    }
}

/// dx = ∂L/∂x given dy = ∂L/∂y (overwrites dx).
pub fn conv2d_backward_data<T: Float>(p: &Conv2dParams, dy: &[T], w: &[T], dx: &mut [T]) {
    check_lens(p, dx.len(), w.len(), dy.len(), "backward data");
    if let (Some(dy), Some(w), Some(dx)) = (T::slice_f32(dy), T::slice_f32(w), T::slice_f32_mut(dx))
    {
        fast::backward_data(p, dy, w, dx);
    } else if let (Some(dy), Some(w), Some(dx)) =
        (T::slice_f64(dy), T::slice_f64(w), T::slice_f64_mut(dx))
    {
        fast::backward_data(p, dy, w, dx);
    } else {
        conv2d_backward_data_ref(p, dy, w, dx);
    }
}

/// dw = ∂L/∂w given x and dy (overwrites dw).
pub fn conv2d_backward_weight<T: Float>(p: &Conv2dParams, x: &[T], dy: &[T], dw: &mut [T]) {
    check_lens(p, x.len(), dw.len(), dy.len(), "backward weight");
    if let (Some(x), Some(dy), Some(dw)) = (T::slice_f32(x), T::slice_f32(dy), T::slice_f32_mut(dw))
    {
        fast::backward_weight(p, x, dy, dw);
    } else if let (Some(x), Some(dy), Some(dw)) =
        (T::slice_f64(x), T::slice_f64(dy), T::slice_f64_mut(dw))
    {
        fast::backward_weight(p, x, dy, dw);
    } else {
        conv2d_backward_weight_ref(p, x, dy, dw);
    }
}

/// db[co] = Σ_{n, oh, ow} dy[n, co, oh, ow] (overwrites db).
pub fn conv2d_backward_bias<T: Float>(p: &Conv2dParams, dy: &[T], db: &mut [T]) {
    assert!(
        dy.len() == p.y_len() && db.len() == p.c_out,
        "conv2d backward bias: lengths"
    );
    let plane = p.out_h() * p.out_w();
    db.fill(T::ZERO);
    for img in dy.chunks_exact(p.c_out * plane.max(1)).take(p.n) {
        for (d, ch) in db.iter_mut().zip(img.chunks_exact(plane.max(1))) {
            *d += crate::cpu::reduce::sum_slice(ch);
        }
    }
}

/// The input position read by output (oh, ow) through kernel tap (kh, kw), if inside the image.
#[inline(always)]
fn tap(p: &Conv2dParams, oh: usize, ow: usize, kh: usize, kw: usize) -> Option<(usize, usize)> {
    let ih = (oh * p.stride.0 + kh * p.dilation.0).checked_sub(p.pad.0)?;
    let iw = (ow * p.stride.1 + kw * p.dilation.1).checked_sub(p.pad.1)?;
    (ih < p.h && iw < p.w).then_some((ih, iw))
}

/// Reference forward: the defining sum, one output element at a time.
pub fn conv2d_forward_ref<T: Float>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
) {
    check_lens(p, x.len(), w.len(), y.len(), "forward");
    let (ho, wo, cig, cog) = (p.out_h(), p.out_w(), p.c_in_g(), p.c_out_g());
    for n in 0..p.n {
        for co in 0..p.c_out {
            let g = co / cog;
            for oh in 0..ho {
                for ow in 0..wo {
                    let mut acc = b.map_or(T::ZERO, |b| b[co]);
                    for ci in 0..cig {
                        for kh in 0..p.kh {
                            for kw in 0..p.kw {
                                if let Some((ih, iw)) = tap(p, oh, ow, kh, kw) {
                                    let xv = x[((n * p.c_in + g * cig + ci) * p.h + ih) * p.w + iw];
                                    let wv = w[((co * cig + ci) * p.kh + kh) * p.kw + kw];
                                    acc += xv * wv;
                                }
                            }
                        }
                    }
                    y[((n * p.c_out + co) * ho + oh) * wo + ow] = acc;
                }
            }
        }
    }
}

/// Reference backward-data: every output element sends w·dy back to the inputs it read.
pub fn conv2d_backward_data_ref<T: Float>(p: &Conv2dParams, dy: &[T], w: &[T], dx: &mut [T]) {
    check_lens(p, dx.len(), w.len(), dy.len(), "backward data");
    let (ho, wo, cig, cog) = (p.out_h(), p.out_w(), p.c_in_g(), p.c_out_g());
    dx.fill(T::ZERO);
    for n in 0..p.n {
        for co in 0..p.c_out {
            let g = co / cog;
            for oh in 0..ho {
                for ow in 0..wo {
                    let d = dy[((n * p.c_out + co) * ho + oh) * wo + ow];
                    for ci in 0..cig {
                        for kh in 0..p.kh {
                            for kw in 0..p.kw {
                                if let Some((ih, iw)) = tap(p, oh, ow, kh, kw) {
                                    let wv = w[((co * cig + ci) * p.kh + kh) * p.kw + kw];
                                    dx[((n * p.c_in + g * cig + ci) * p.h + ih) * p.w + iw] +=
                                        wv * d;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reference backward-weight: dw[co, ci, kh, kw] = Σ_{n, oh, ow} dy[n, co, oh, ow] · x[...].
pub fn conv2d_backward_weight_ref<T: Float>(p: &Conv2dParams, x: &[T], dy: &[T], dw: &mut [T]) {
    check_lens(p, x.len(), dw.len(), dy.len(), "backward weight");
    let (ho, wo, cig, cog) = (p.out_h(), p.out_w(), p.c_in_g(), p.c_out_g());
    for co in 0..p.c_out {
        let g = co / cog;
        for ci in 0..cig {
            for kh in 0..p.kh {
                for kw in 0..p.kw {
                    let mut acc = T::ZERO;
                    for n in 0..p.n {
                        for oh in 0..ho {
                            for ow in 0..wo {
                                if let Some((ih, iw)) = tap(p, oh, ow, kh, kw) {
                                    let d = dy[((n * p.c_out + co) * ho + oh) * wo + ow];
                                    acc +=
                                        d * x[((n * p.c_in + g * cig + ci) * p.h + ih) * p.w + iw];
                                }
                            }
                        }
                    }
                    dw[((co * cig + ci) * p.kh + kh) * p.kw + kw] = acc;
                }
            }
        }
    }
}

/// Writes the im2col matrix of one image (x_img [Cin, H, W]) for group g:
/// col[(ci, kh, kw), oh·Wo + ow] = x_img[g·Cin/G + ci, oh·sh + kh·dh - ph, ow·sw + kw·dw - pw]
/// (zero outside the image). col is [K, Ho·Wo].
pub fn im2col<T: Float>(p: &Conv2dParams, x_img: &[T], g: usize, col: &mut [T]) {
    im2col_strided(p, x_img, g, col, p.out_h() * p.out_w());
}

/// [`im2col`] into a wider matrix: row r of this image's columns starts at `col[r·ld]` (so
/// several images can sit side by side in one [K, images·Ho·Wo] matrix).
pub(crate) fn im2col_strided<T: Float>(
    p: &Conv2dParams,
    x_img: &[T],
    g: usize,
    col: &mut [T],
    ld: usize,
) {
    let (ho, wo, cig) = (p.out_h(), p.out_w(), p.c_in_g());
    assert!(
        ld >= ho * wo && col.len() >= (p.k_len() - 1) * ld + ho * wo,
        "im2col: col too short"
    );
    let mut row = 0;
    for ci in 0..cig {
        let plane = &x_img[(g * cig + ci) * p.h * p.w..][..p.h * p.w];
        for kh in 0..p.kh {
            for kw in 0..p.kw {
                let dst = &mut col[row * ld..][..ho * wo];
                let (ow_lo, ow_hi) = valid_range(p.w, wo, kw * p.dilation.1, p.pad.1, p.stride.1);
                for oh in 0..ho {
                    let out_row = &mut dst[oh * wo..][..wo];
                    let ih = (oh * p.stride.0 + kh * p.dilation.0).wrapping_sub(p.pad.0);
                    if ih >= p.h {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    out_row[..ow_lo].fill(T::ZERO);
                    out_row[ow_hi..].fill(T::ZERO);
                    let src = &plane[ih * p.w..][..p.w];
                    let iw0 = ow_lo * p.stride.1 + kw * p.dilation.1 - p.pad.1;
                    if p.stride.1 == 1 {
                        out_row[ow_lo..ow_hi].copy_from_slice(&src[iw0..iw0 + ow_hi - ow_lo]);
                    } else {
                        // chunks(stride), first of each: the compiler turns this into vector
                        // loads and shuffles (step_by stays scalar).
                        let picks = src[iw0..].chunks(p.stride.1).map(|c| c[0]);
                        for (o, v) in out_row[ow_lo..ow_hi].iter_mut().zip(picks) {
                            *o = v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// The adjoint of [`im2col`]: dx_img[...] += col[(ci, kh, kw), (oh, ow)] for every entry that
/// came from inside the image.
pub fn col2im<T: Float>(p: &Conv2dParams, col: &[T], g: usize, dx_img: &mut [T]) {
    let (ho, wo, cig) = (p.out_h(), p.out_w(), p.c_in_g());
    let mut row = 0;
    for ci in 0..cig {
        let plane = &mut dx_img[(g * cig + ci) * p.h * p.w..][..p.h * p.w];
        for kh in 0..p.kh {
            for kw in 0..p.kw {
                let src = &col[row * ho * wo..][..ho * wo];
                let (ow_lo, ow_hi) = valid_range(p.w, wo, kw * p.dilation.1, p.pad.1, p.stride.1);
                for oh in 0..ho {
                    let ih = (oh * p.stride.0 + kh * p.dilation.0).wrapping_sub(p.pad.0);
                    if ih >= p.h || ow_lo >= ow_hi {
                        continue;
                    }
                    let dst = &mut plane[ih * p.w..][..p.w];
                    let iw0 = ow_lo * p.stride.1 + kw * p.dilation.1 - p.pad.1;
                    let vals = &src[oh * wo + ow_lo..oh * wo + ow_hi];
                    if p.stride.1 == 1 {
                        for (d, &v) in dst[iw0..].iter_mut().zip(vals) {
                            *d += v;
                        }
                    } else {
                        for (c, &v) in dst[iw0..].chunks_mut(p.stride.1).zip(vals) {
                            c[0] += v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// The output columns [lo, hi) whose tap at offset `k_off` (= kw·dw) lands inside [0, len):
/// 0 <= ow·stride + k_off - pad < len.
fn valid_range(len: usize, out: usize, k_off: usize, pad: usize, stride: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(k_off).div_ceil(stride).min(out);
    let hi = if len + pad > k_off {
        (len + pad - k_off).div_ceil(stride).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}
