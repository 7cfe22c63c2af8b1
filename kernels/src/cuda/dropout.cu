// dropout.cu: inverted dropout (Srivastava et al. 2014) with the CPU's exact random mask.
//
// Shape legend (the CPU reference is kernels/src/cpu/dropout.rs): x, y, mask, dy, dx are [n].
//
//   u_i = top 53 bits of mix(seed + (i + 1)·γ) / 2^53, γ = 0x9E3779B97F4A7C15 (SplitMix64,
//         Steele, Lea & Flood 2014: element i of the sequential stream started at `seed`)
//   mix(z): z = (z ^ (z >> 30))·0xBF58476D1CE4E5B9; z = (z ^ (z >> 27))·0x94D049BB133111EB;
//           z ^ (z >> 31)
//   mask_i = scale if u_i >= p else 0, scale = 1/(1 - p) (0 when p = 1, rounded to T by the
//   launcher exactly as the CPU does); y = x·mask; dx = dy·mask
//
// The draws are counter-based, so the GPU mask equals the CPU mask bit for bit.

__device__ __forceinline__ u64 splitmix64_mix(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

template <typename T>
__device__ void dropout_fwd(const T* x, T* y, T* mask, u64 n, u64 seed, double p, T scale) {
    GRID_STRIDE(i, n) {
        u64 state = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
        double u = (double)(splitmix64_mix(state) >> 11) * (1.0 / 9007199254740992.0);  // 2^53
        T m = u >= p ? scale : T(0);
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

template <typename T> __device__ void dropout_bwd(const T* dy, const T* mask, T* dx, u64 n) {
    GRID_STRIDE(i, n) dx[i] = dy[i] * mask[i];
}

#define DROPOUT_ENTRIES(T, S)                                                                 \
    extern "C" __global__ void dropout_fwd_##S(const T* x, T* y, T* mask, u64 n, u64 seed,    \
                                               double p, T scale) {                           \
        dropout_fwd(x, y, mask, n, seed, p, scale);                                           \
    }                                                                                         \
    extern "C" __global__ void dropout_bwd_##S(const T* dy, const T* mask, T* dx, u64 n) {     \
        dropout_bwd(dy, mask, dx, n);                                                         \
    }

DROPOUT_ENTRIES(float, f32)
DROPOUT_ENTRIES(double, f64)
