// conv.cu: 2-D convolution (cross-correlation, as PyTorch) as implicit GEMMs: forward,
// backward-data, backward-weight, backward-bias.
//
// Shape legend (the CPU reference is kernels/src/cpu/conv/mod.rs, conv2d_*_ref):
//   x  [N, Cin, H, W]   w [Cout, Cin/G, KH, KW]   b [Cout]   y [N, Cout, Ho, Wo]
//   Ho = (H + 2·ph - dh·(KH-1) - 1) / sh + 1 (same for Wo); G groups; Cg = Cin/G, Og = Cout/G
//   y[n, co, oh, ow] = b[co] + Σ_{ci, kh, kw} w[co, ci, kh, kw] ·
//                      x[n, g·Cg + ci, oh·sh + kh·dh - ph, ow·sw + kw·dw - pw],  g = co / Og,
//   x read as 0 outside the image.
//
// Each pass is one GEMM per group (blockIdx.z = group) whose operands are read straight from
// the tensors: the im2col matrix is never built ("implicit GEMM", as in cuDNN and CUTLASS);
// the tile, register blocking and double buffering are tile.cuh's.
//   forward:   y_g [Og, N·Ho·Wo]   = W_g [Og, K] · col [K, N·Ho·Wo],        K = Cg·KH·KW
//   bwd data:  dx_g [Cg, N·H·W]    = W_gᵀ [Cg, K'] · dcol [K', N·H·W],      K' = Og·KH·KW,
//              dcol[(co, kh, kw), (n, ih, iw)] = dy[n, co, oh, ow] where ih = oh·sh + kh·dh - ph
//              (and likewise iw) has a whole solution oh in [0, Ho), else 0
//   bwd weight: dw_g [Og, K]       = dy_g [Og, N·Ho·Wo] · colᵀ [N·Ho·Wo, K], the long sum over
//              N·Ho·Wo split over blockIdx.z (split-K) when the grid is small, the partial
//              tiles added with atomicAdd into a zeroed dw (so not bit-reproducible then)
//   bwd bias:  db[co] = Σ_{n, oh, ow} dy[n, co, oh, ow], one block per channel
// Index arithmetic is in int: the launcher checks that every tensor has fewer than 2^31
// elements.

struct ConvArgs {
    int n, c_in, h, w, c_out, kh, kw, sh, sw, ph, pw, dh, dw, groups, ho, wo;
    int splits;  // bwd weight: how many parts the N·Ho·Wo sum is split into (grid.z / G)
};

// col[k, p] of the forward: the input pixel that tap k = (ci, kh, kw) of output pixel
// p = (n, oh, ow) reads, in group g; 0 in the padding.
template <typename T>
__device__ __forceinline__ T im2col_at(const T* x, const ConvArgs& a, int g, int ci, int r, int s,
                                       int p) {
    int hw_out = a.ho * a.wo;
    int n = p / hw_out, q = p % hw_out;
    int ih = (q / a.wo) * a.sh + r * a.dh - a.ph;
    int iw = (q % a.wo) * a.sw + s * a.dw - a.pw;
    if (ih < 0 || ih >= a.h || iw < 0 || iw >= a.w) return T(0);
    return x[((n * a.c_in + g * (a.c_in / a.groups) + ci) * a.h + ih) * a.w + iw];
}

// ---- forward ---------------------------------------------------------------------------------

template <typename T> struct ConvFwdOperands {
    static constexpr bool A_K_CONTIG = true;   // w[co, k]: k contiguous
    static constexpr bool B_K_CONTIG = false;  // col[k, p]: neighbouring p, neighbouring ow
    const T* x;
    const T* w;
    ConvArgs a;
    int g, m, n, k;  // GEMM sizes: Og, N·Ho·Wo, Cg·KH·KW
    __device__ void load_a(int mi, int ki, T v[4]) const {
        const T* row = w + (u64)(g * m + mi) * k;
#pragma unroll
        for (int j = 0; j < 4; ++j) v[j] = (mi < m && ki + j < k) ? row[ki + j] : T(0);
    }
    __device__ void load_b(int ki, int pi, T v[4]) const {
        int taps = a.kh * a.kw, ci = ki / taps, r = (ki % taps) / a.kw, s = ki % a.kw;
#pragma unroll
        for (int j = 0; j < 4; ++j)
            v[j] = (ki < k && pi + j < n) ? im2col_at(x, a, g, ci, r, s, pi + j) : T(0);
    }
};

template <typename T>
__device__ void conv2d_fwd(const T* x, const T* w, const T* bias, T* y, const ConvArgs& a) {
    __shared__ TileSmem<T> sm;
    const int g = blockIdx.z, og = a.c_out / a.groups;
    ConvFwdOperands<T> op{x, w, a, g, og, a.n * a.ho * a.wo, (a.c_in / a.groups) * a.kh * a.kw};
    const int bm = blockIdx.y * TILE_M, bn = blockIdx.x * TILE_N;
    T acc[4][4] = {};
    tile_mainloop(op, 0, op.k, bm, bn, acc, sm);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4, hw_out = a.ho * a.wo;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        int co = bm + ty * 4 + i;
        if (co >= og) continue;
        int c = g * og + co;
        T b0 = bias ? bias[c] : T(0);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int p = bn + tx * 4 + j;
            if (p >= op.n) continue;
            int nn = p / hw_out, q = p % hw_out;
            y[(u64)(nn * a.c_out + c) * hw_out + q] = acc[i][j] + b0;
        }
    }
}

// ---- backward data ---------------------------------------------------------------------------

template <typename T> struct ConvDataOperands {
    static constexpr bool A_K_CONTIG = true;   // w[co, ci, kh, kw] along (kh, kw)
    static constexpr bool B_K_CONTIG = false;  // dcol[k', p]: neighbouring p, neighbouring iw
    const T* dy;
    const T* w;
    ConvArgs a;
    int g, m, n, k;  // GEMM sizes: Cg, N·H·W, Og·KH·KW
    __device__ void load_a(int ci, int ki, T v[4]) const {
        int taps = a.kh * a.kw, og = a.c_out / a.groups;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int kk = ki + j;
            v[j] = (ci < m && kk < k)
                       ? w[((u64)(g * og + kk / taps) * m + ci) * taps + kk % taps]
                       : T(0);
        }
    }
    __device__ void load_b(int ki, int pi, T v[4]) const {
        int taps = a.kh * a.kw, co = ki / taps, r = (ki % taps) / a.kw, s = ki % a.kw;
        int og = a.c_out / a.groups, hw = a.h * a.w;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int p = pi + j;
            T val = T(0);
            if (ki < k && p < n) {
                int nn = p / hw, q = p % hw;
                int th = q / a.w + a.ph - r * a.dh, tw = q % a.w + a.pw - s * a.dw;
                if (th >= 0 && tw >= 0 && th % a.sh == 0 && tw % a.sw == 0) {
                    int oh = th / a.sh, ow = tw / a.sw;
                    if (oh < a.ho && ow < a.wo)
                        val = dy[((u64)(nn * a.c_out + g * og + co) * a.ho + oh) * a.wo + ow];
                }
            }
            v[j] = val;
        }
    }
};

template <typename T>
__device__ void conv2d_data_bwd(const T* dy, const T* w, T* dx, const ConvArgs& a) {
    __shared__ TileSmem<T> sm;
    const int g = blockIdx.z, cg = a.c_in / a.groups;
    ConvDataOperands<T> op{dy, w, a, g, cg, a.n * a.h * a.w, (a.c_out / a.groups) * a.kh * a.kw};
    const int bm = blockIdx.y * TILE_M, bn = blockIdx.x * TILE_N;
    T acc[4][4] = {};
    tile_mainloop(op, 0, op.k, bm, bn, acc, sm);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4, hw = a.h * a.w;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        int ci = bm + ty * 4 + i;
        if (ci >= cg) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int p = bn + tx * 4 + j;
            if (p >= op.n) continue;
            int nn = p / hw, q = p % hw;
            dx[(u64)(nn * a.c_in + g * cg + ci) * hw + q] = acc[i][j];
        }
    }
}

// ---- backward weight -------------------------------------------------------------------------

template <typename T> struct ConvWeightOperands {
    static constexpr bool A_K_CONTIG = true;  // dy[n, co, oh, ow]: neighbouring p, neighbours
    static constexpr bool B_K_CONTIG = true;  // colᵀ[p, k]: neighbouring p, neighbouring ow
    const T* x;
    const T* dy;
    ConvArgs a;
    int g, m, n, k;  // GEMM sizes: Og, Cg·KH·KW, N·Ho·Wo (the sum)
    __device__ void load_a(int co, int pi, T v[4]) const {
        int hw_out = a.ho * a.wo;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int p = pi + j;
            v[j] = (co < m && p < k)
                       ? dy[(u64)((p / hw_out) * a.c_out + g * m + co) * hw_out + p % hw_out]
                       : T(0);
        }
    }
    __device__ void load_b(int pi, int ki, T v[4]) const {
        int taps = a.kh * a.kw, ci = ki / taps, r = (ki % taps) / a.kw, s = ki % a.kw;
#pragma unroll
        for (int j = 0; j < 4; ++j)
            v[j] = (ki < n && pi + j < k) ? im2col_at(x, a, g, ci, r, s, pi + j) : T(0);
    }
};

template <typename T>
__device__ void conv2d_weight_bwd(const T* x, const T* dy, T* dw, const ConvArgs& a) {
    __shared__ TileSmem<T> sm;
    const int g = blockIdx.z / a.splits, part = blockIdx.z % a.splits;
    const int og = a.c_out / a.groups;
    ConvWeightOperands<T> op{x, dy, a, g, og, (a.c_in / a.groups) * a.kh * a.kw,
                             a.n * a.ho * a.wo};
    // This block's share of the sum: whole K tiles, so that splits never share a tile.
    const int tiles = (op.k + TILE_K - 1) / TILE_K, per = (tiles + a.splits - 1) / a.splits;
    const int k_lo = part * per * TILE_K, k_hi = min(op.k, (part + 1) * per * TILE_K);
    const int bm = blockIdx.y * TILE_M, bn = blockIdx.x * TILE_N;
    T acc[4][4] = {};
    tile_mainloop(op, k_lo, k_hi, bm, bn, acc, sm);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        int co = bm + ty * 4 + i;
        if (co >= og) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int kk = bn + tx * 4 + j;
            if (kk >= op.n) continue;
            T* out = dw + (u64)(g * og + co) * op.n + kk;
            if (a.splits == 1) *out = acc[i][j];
            else atomicAdd(out, acc[i][j]);
        }
    }
}

// ---- backward bias ---------------------------------------------------------------------------

template <typename T> __device__ void conv2d_bias_bwd(const T* dy, T* db, const ConvArgs& a) {
    const int hw_out = a.ho * a.wo;
    for (int c = blockIdx.x; c < a.c_out; c += gridDim.x) {
        T acc = T(0);
        for (int nn = 0; nn < a.n; ++nn) {
            const T* plane = dy + (u64)(nn * a.c_out + c) * hw_out;
            for (int q = threadIdx.x; q < hw_out; q += blockDim.x) acc += plane[q];
        }
        acc = block_sum(acc);
        if (threadIdx.x == 0) db[c] = acc;
    }
}

#define CONV_ENTRIES(T, S)                                                                    \
    extern "C" __global__ void __launch_bounds__(TILE_THREADS)                                \
        conv2d_fwd_##S(const T* x, const T* w, const T* bias, T* y, ConvArgs a) {             \
        conv2d_fwd(x, w, bias, y, a);                                                         \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(TILE_THREADS)                                \
        conv2d_data_bwd_##S(const T* dy, const T* w, T* dx, ConvArgs a) {                     \
        conv2d_data_bwd(dy, w, dx, a);                                                        \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(TILE_THREADS)                                \
        conv2d_weight_bwd_##S(const T* x, const T* dy, T* dw, ConvArgs a) {                   \
        conv2d_weight_bwd(x, dy, dw, a);                                                      \
    }                                                                                         \
    extern "C" __global__ void conv2d_bias_bwd_##S(const T* dy, T* db, ConvArgs a) {          \
        conv2d_bias_bwd(dy, db, a);                                                           \
    }

CONV_ENTRIES(float, f32)
CONV_ENTRIES(double, f64)
