// reduce.cu: sum, max (with argmax) and logsumexp along one axis, and the max's backward.
//
// Shape legend (the CPU reference is kernels/src/cpu/reduce.rs): x is viewed as
// [outer, len, inner] around the reduced axis; out, values, argmax and g are [outer, inner];
// dx is [outer, len, inner].
//
//   sum:        out[o, i] = Σ_l x[o, l, i]
//   max:        values[o, i] = max_l x[o, l, i], argmax = the first l reaching it; a NaN wins
//               (the first NaN), so a NaN is never hidden
//   logsumexp:  out[o, i] = M + log Σ_l exp(x[o, l, i] - M), M = max_l x (M itself when ±inf)
//   max_bwd:    dx[o, argmax[o, i], i] = g[o, i], zero elsewhere (the launcher zero-fills dx)
//
// Two shapes of kernel per reduction: `<op>_fwd` for inner = 1 (the reduced axis is the last,
// contiguous one: one block per row, threads stride along the row, a tree reduction at the
// end) and `<op>_strided_fwd` for inner > 1 (one thread per output column (o, i), walking len
// with stride inner: neighbouring threads read neighbouring addresses, so loads coalesce).

// ---- (value, index) pairs for max / argmax --------------------------------------------------

// The better of two candidates: a NaN beats a number, a larger value beats a smaller one,
// ties (and two NaNs) go to the lower index.
template <typename T> __device__ __forceinline__ void arg_best(T& v, u64& i, T v2, u64 i2) {
    bool n1 = ag_isnan(v), n2 = ag_isnan(v2);
    bool take;
    if (n1 || n2) take = (n2 && !n1) || (n1 && n2 && i2 < i);
    else take = v2 > v || (v2 == v && i2 < i);
    if (take) { v = v2; i = i2; }
}

template <typename T> __device__ void block_arg_best(T& v, u64& i) {
    __shared__ T vs[32];
    __shared__ u64 is[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
        arg_best(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
    __syncthreads();
    if (lane == 0) { vs[warp] = v; is[warp] = i; }
    __syncthreads();
    v = lane < warps ? vs[lane] : -Lim<T>::inf();
    i = lane < warps ? is[lane] : ~0ull;
    for (int o = 16; o > 0; o >>= 1)
        arg_best(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
}

// ---- inner = 1: one block per row -----------------------------------------------------------

template <typename T> __device__ void sum_rows(const T* x, T* out, u64 rows, u64 len) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * len;
        T acc = T(0);
        for (u64 l = threadIdx.x; l < len; l += blockDim.x) acc += row[l];
        acc = block_sum(acc);
        if (threadIdx.x == 0) out[r] = acc;
    }
}

template <typename T>
__device__ void max_rows(const T* x, T* values, u64* argmax, u64 rows, u64 len) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * len;
        // Empty candidate: -inf at an index past the row, so any real element replaces it.
        T best = -Lim<T>::inf();
        u64 at = ~0ull;
        for (u64 l = threadIdx.x; l < len; l += blockDim.x) arg_best(best, at, row[l], l);
        block_arg_best(best, at);
        if (threadIdx.x == 0) { values[r] = best; argmax[r] = at; }
    }
}

template <typename T> __device__ void logsumexp_rows(const T* x, T* out, u64 rows, u64 len) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + r * len;
        T m = -Lim<T>::inf();
        for (u64 l = threadIdx.x; l < len; l += blockDim.x) m = max_nan(m, row[l]);
        m = block_max_nan(m);
        T acc = T(0);
        for (u64 l = threadIdx.x; l < len; l += blockDim.x) acc += ag_exp(row[l] - m);
        acc = block_sum(acc);
        if (threadIdx.x == 0) out[r] = (m == Lim<T>::inf() || m == -Lim<T>::inf()) ? m : m + ag_log(acc);
    }
}

// ---- inner > 1: one thread per output column ------------------------------------------------

template <typename T>
__device__ void sum_strided(const T* x, T* out, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(c, outer * inner) {
        u64 o = c / inner, i = c % inner;
        const T* col = x + o * len * inner + i;
        T acc = T(0);
        for (u64 l = 0; l < len; ++l) acc += col[l * inner];
        out[c] = acc;
    }
}

template <typename T>
__device__ void max_strided(const T* x, T* values, u64* argmax, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(c, outer * inner) {
        u64 o = c / inner, i = c % inner;
        const T* col = x + o * len * inner + i;
        T best = col[0];
        u64 at = 0;
        for (u64 l = 1; l < len && !ag_isnan(best); ++l) {
            T v = col[l * inner];
            if (v > best || ag_isnan(v)) { best = v; at = l; }
        }
        values[c] = best;
        argmax[c] = at;
    }
}

template <typename T>
__device__ void logsumexp_strided(const T* x, T* out, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(c, outer * inner) {
        u64 o = c / inner, i = c % inner;
        const T* col = x + o * len * inner + i;
        T m = -Lim<T>::inf();
        for (u64 l = 0; l < len; ++l) m = max_nan(m, col[l * inner]);
        if (m == Lim<T>::inf() || m == -Lim<T>::inf()) { out[c] = m; continue; }
        T acc = T(0);
        for (u64 l = 0; l < len; ++l) acc += ag_exp(col[l * inner] - m);
        out[c] = m + ag_log(acc);
    }
}

template <typename T>
__device__ void max_bwd(const T* g, const u64* argmax, T* dx, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(c, outer * inner) {
        u64 o = c / inner, i = c % inner, l = argmax[c];
        if (l < len) dx[(o * len + l) * inner + i] = g[c];
    }
}

#define REDUCE_ENTRIES(T, S)                                                                  \
    extern "C" __global__ void sum_fwd_##S(const T* x, T* out, u64 rows, u64 len) {           \
        sum_rows(x, out, rows, len);                                                          \
    }                                                                                         \
    extern "C" __global__ void sum_strided_fwd_##S(const T* x, T* out, u64 outer, u64 len,    \
                                                   u64 inner) {                               \
        sum_strided(x, out, outer, len, inner);                                               \
    }                                                                                         \
    extern "C" __global__ void max_fwd_##S(const T* x, T* values, u64* argmax, u64 rows,      \
                                           u64 len) {                                         \
        max_rows(x, values, argmax, rows, len);                                               \
    }                                                                                         \
    extern "C" __global__ void max_strided_fwd_##S(const T* x, T* values, u64* argmax,        \
                                                   u64 outer, u64 len, u64 inner) {           \
        max_strided(x, values, argmax, outer, len, inner);                                    \
    }                                                                                         \
    extern "C" __global__ void max_bwd_##S(const T* g, const u64* argmax, T* dx, u64 outer,   \
                                           u64 len, u64 inner) {                              \
        max_bwd(g, argmax, dx, outer, len, inner);                                            \
    }                                                                                         \
    extern "C" __global__ void logsumexp_fwd_##S(const T* x, T* out, u64 rows, u64 len) {     \
        logsumexp_rows(x, out, rows, len);                                                    \
    }                                                                                         \
    extern "C" __global__ void logsumexp_strided_fwd_##S(const T* x, T* out, u64 outer,       \
                                                         u64 len, u64 inner) {                \
        logsumexp_strided(x, out, outer, len, inner);                                         \
    }

REDUCE_ENTRIES(float, f32)
REDUCE_ENTRIES(double, f64)
