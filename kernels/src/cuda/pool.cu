// pool.cu: 2-D max and average pooling, forward and backward, and global average pooling.
//
// Shape legend (the CPU reference is kernels/src/cpu/pool.rs, *_ref):
//   x, dx [N, C, H, W]; y, dy, argmax [N, C, Ho, Wo], Ho = (H + 2·ph - KH) / sh + 1 (floor)
//   argmax (u64): the flat index ih·W + iw within the input plane of the element that won
//   (PyTorch's return_indices); ties go to the first tap in row-major window order, a NaN wins.
//   max:  y = max over the window (padding never wins)
//   avg:  y = Σ window / count, count = KH·KW with count_include_pad, else the in-image taps
//   global average: x [N·C, S] -> y [N·C], y = mean of the plane; dx = dy / S
//
// Forward: one thread per output. Backward: one thread per *input* element, which gathers the
// outputs whose windows cover it (oh in [ceil((ih + ph - KH + 1) / sh), floor((ih + ph) / sh)])
// instead of scattering with atomics: deterministic, and the terms are added in the same
// (row-major output) order as the CPU reference, so the results agree to the bit.

struct PoolArgs {
    int n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo, count_include_pad, pad;
};

// [lo, hi): the input rows (or columns) under output row o, clipped to the image.
__device__ __forceinline__ void pool_window(int o, int stride, int pad, int k, int len, int& lo,
                                            int& hi) {
    int start = o * stride - pad;
    lo = max(start, 0);
    hi = min(max(start + k, 0), len);
    hi = max(hi, lo);
}

// The outputs along one axis whose windows contain input i: [first, last], maybe empty.
__device__ __forceinline__ void covering(int i, int stride, int pad, int k, int out_len,
                                         int& first, int& last) {
    int top = i + pad - k + 1;  // o·stride >= top
    first = top <= 0 ? 0 : (top + stride - 1) / stride;
    last = min((i + pad) / stride, out_len - 1);
}

template <typename T> __device__ T avg_count(const PoolArgs& a, int oh, int ow) {
    if (a.count_include_pad) return (T)(a.kh * a.kw);
    int h0, h1, w0, w1;
    pool_window(oh, a.sh, a.ph, a.kh, a.h, h0, h1);
    pool_window(ow, a.sw, a.pw, a.kw, a.w, w0, w1);
    return (T)max((h1 - h0) * (w1 - w0), 1);
}

template <typename T>
__device__ void max_pool2d_fwd(const T* x, T* y, u64* argmax, const PoolArgs& a) {
    const int plane_out = a.ho * a.wo;
    GRID_STRIDE(i, (u64)a.n * a.c * plane_out) {
        u64 nc = i / plane_out;
        int q = (int)(i % plane_out), oh = q / a.wo, ow = q % a.wo;
        const T* xp = x + nc * a.h * a.w;
        T best = -Lim<T>::inf();
        u64 at = ~0ull;
        for (int r = 0; r < a.kh; ++r) {
            int ih = oh * a.sh + r - a.ph;
            if (ih < 0 || ih >= a.h) continue;
            for (int s = 0; s < a.kw; ++s) {
                int iw = ow * a.sw + s - a.pw;
                if (iw < 0 || iw >= a.w) continue;
                T v = xp[ih * a.w + iw];
                if (at == ~0ull || (!ag_isnan(best) && (v > best || ag_isnan(v)))) {
                    best = v;
                    at = (u64)(ih * a.w + iw);
                }
            }
        }
        y[i] = best;
        argmax[i] = at;
    }
}

template <typename T>
__device__ void max_pool2d_bwd(const T* dy, const u64* argmax, T* dx, const PoolArgs& a) {
    const int plane_in = a.h * a.w, plane_out = a.ho * a.wo;
    GRID_STRIDE(i, (u64)a.n * a.c * plane_in) {
        u64 nc = i / plane_in;
        int at = (int)(i % plane_in), ih = at / a.w, iw = at % a.w;
        int oh0, oh1, ow0, ow1;
        covering(ih, a.sh, a.ph, a.kh, a.ho, oh0, oh1);
        covering(iw, a.sw, a.pw, a.kw, a.wo, ow0, ow1);
        const T* g = dy + nc * plane_out;
        const u64* am = argmax + nc * plane_out;
        T acc = T(0);
        for (int oh = oh0; oh <= oh1; ++oh)
            for (int ow = ow0; ow <= ow1; ++ow)
                if (am[oh * a.wo + ow] == (u64)at) acc += g[oh * a.wo + ow];
        dx[i] = acc;
    }
}

template <typename T> __device__ void avg_pool2d_fwd(const T* x, T* y, const PoolArgs& a) {
    const int plane_out = a.ho * a.wo;
    GRID_STRIDE(i, (u64)a.n * a.c * plane_out) {
        u64 nc = i / plane_out;
        int q = (int)(i % plane_out), oh = q / a.wo, ow = q % a.wo;
        int h0, h1, w0, w1;
        pool_window(oh, a.sh, a.ph, a.kh, a.h, h0, h1);
        pool_window(ow, a.sw, a.pw, a.kw, a.w, w0, w1);
        const T* xp = x + nc * a.h * a.w;
        T acc = T(0);
        for (int ih = h0; ih < h1; ++ih)
            for (int iw = w0; iw < w1; ++iw) acc += xp[ih * a.w + iw];
        y[i] = acc / avg_count<T>(a, oh, ow);
    }
}

template <typename T> __device__ void avg_pool2d_bwd(const T* dy, T* dx, const PoolArgs& a) {
    const int plane_in = a.h * a.w, plane_out = a.ho * a.wo;
    GRID_STRIDE(i, (u64)a.n * a.c * plane_in) {
        u64 nc = i / plane_in;
        int at = (int)(i % plane_in), ih = at / a.w, iw = at % a.w;
        int oh0, oh1, ow0, ow1;
        covering(ih, a.sh, a.ph, a.kh, a.ho, oh0, oh1);
        covering(iw, a.sw, a.pw, a.kw, a.wo, ow0, ow1);
        const T* g = dy + nc * plane_out;
        T acc = T(0);
        for (int oh = oh0; oh <= oh1; ++oh)
            for (int ow = ow0; ow <= ow1; ++ow) acc += g[oh * a.wo + ow] / avg_count<T>(a, oh, ow);
        dx[i] = acc;
    }
}

// One block per plane.
template <typename T> __device__ void global_avg_pool_fwd(const T* x, T* y, u64 planes, u64 plane) {
    T inv = T(1) / (T)plane;
    for (u64 p = blockIdx.x; p < planes; p += gridDim.x) {
        T acc = T(0);
        for (u64 s = threadIdx.x; s < plane; s += blockDim.x) acc += x[p * plane + s];
        acc = block_sum(acc);
        if (threadIdx.x == 0) y[p] = acc * inv;
    }
}

template <typename T>
__device__ void global_avg_pool_bwd(const T* dy, T* dx, u64 planes, u64 plane) {
    T inv = T(1) / (T)plane;
    GRID_STRIDE(i, planes * plane) dx[i] = dy[i / plane] * inv;
}

#define POOL_ENTRIES(T, S)                                                                    \
    extern "C" __global__ void max_pool2d_fwd_##S(const T* x, T* y, u64* argmax, PoolArgs a) { \
        max_pool2d_fwd(x, y, argmax, a);                                                      \
    }                                                                                         \
    extern "C" __global__ void max_pool2d_bwd_##S(const T* dy, const u64* argmax, T* dx,      \
                                                  PoolArgs a) {                               \
        max_pool2d_bwd(dy, argmax, dx, a);                                                    \
    }                                                                                         \
    extern "C" __global__ void avg_pool2d_fwd_##S(const T* x, T* y, PoolArgs a) {             \
        avg_pool2d_fwd(x, y, a);                                                              \
    }                                                                                         \
    extern "C" __global__ void avg_pool2d_bwd_##S(const T* dy, T* dx, PoolArgs a) {           \
        avg_pool2d_bwd(dy, dx, a);                                                            \
    }                                                                                         \
    extern "C" __global__ void global_avg_pool_fwd_##S(const T* x, T* y, u64 planes,          \
                                                       u64 plane) {                           \
        global_avg_pool_fwd(x, y, planes, plane);                                             \
    }                                                                                         \
    extern "C" __global__ void global_avg_pool_bwd_##S(const T* dy, T* dx, u64 planes,        \
                                                       u64 plane) {                           \
        global_avg_pool_bwd(dy, dx, planes, plane);                                           \
    }

POOL_ENTRIES(float, f32)
POOL_ENTRIES(double, f64)
