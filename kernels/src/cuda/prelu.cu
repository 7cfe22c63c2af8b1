// prelu.cu: PReLU (He et al. 2015) with a learnable slope per channel, or one shared slope.
//
// Shape legend (the CPU reference is kernels/src/cpu/prelu.rs): x, y, dy, dx are [N, C, S]
// (S = H·W, or 1 after a linear layer); slope is [C], or [1] when `shared`; partial is [C].
//
//   y  = x for x > 0, slope_c·x otherwise
//   dx = dy for x > 0, slope_c·dy otherwise (x = 0 takes the slope side, as PyTorch)
//   dslope_c = Σ_{x <= 0} dy·x over the channel's N·S values
//
// prelu_slope_bwd writes the per-channel sums into `partial` (one block per channel); with a
// shared slope the launcher then sums `partial` into the single dslope with reduce.cu's sum.

template <typename T>
__device__ void prelu_fwd(const T* x, const T* slope, T* y, u64 total, u64 c, u64 s, int shared) {
    GRID_STRIDE(i, total) {
        T a = slope[shared ? 0 : (i / s) % c];
        y[i] = x[i] > T(0) ? x[i] : a * x[i];
    }
}

template <typename T>
__device__ void prelu_bwd(const T* x, const T* slope, const T* dy, T* dx, u64 total, u64 c, u64 s,
                          int shared) {
    GRID_STRIDE(i, total) {
        T a = slope[shared ? 0 : (i / s) % c];
        dx[i] = x[i] > T(0) ? dy[i] : a * dy[i];
    }
}

template <typename T>
__device__ void prelu_slope_bwd(const T* x, const T* dy, T* partial, u64 n, u64 c, u64 s) {
    const u64 m = n * s;
    for (u64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
        T acc = T(0);
        for (u64 j = threadIdx.x; j < m; j += blockDim.x) {
            u64 at = ((j / s) * c + ch) * s + j % s;
            if (!(x[at] > T(0))) acc += dy[at] * x[at];
        }
        acc = block_sum(acc);
        if (threadIdx.x == 0) partial[ch] = acc;
    }
}

#define PRELU_ENTRIES(T, S)                                                                   \
    extern "C" __global__ void prelu_fwd_##S(const T* x, const T* slope, T* y, u64 total,      \
                                             u64 c, u64 s, int shared) {                      \
        prelu_fwd(x, slope, y, total, c, s, shared);                                          \
    }                                                                                         \
    extern "C" __global__ void prelu_bwd_##S(const T* x, const T* slope, const T* dy, T* dx,   \
                                             u64 total, u64 c, u64 s, int shared) {           \
        prelu_bwd(x, slope, dy, dx, total, c, s, shared);                                     \
    }                                                                                         \
    extern "C" __global__ void prelu_slope_bwd_##S(const T* x, const T* dy, T* partial, u64 n, \
                                                   u64 c, u64 s) {                            \
        prelu_slope_bwd(x, dy, partial, n, c, s);                                             \
    }

PRELU_ENTRIES(float, f32)
PRELU_ENTRIES(double, f64)
