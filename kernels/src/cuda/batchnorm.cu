// batchnorm.cu: batch normalisation over the channel axis (Ioffe & Szegedy 2015).
//
// Shape legend (the CPU reference is kernels/src/cpu/batchnorm/mod.rs): x, y, dy, dx are
// [N, C, S] (S = H·W, or 1 for BatchNorm1d); gamma, beta, mean, invstd, running_mean,
// running_var, dgamma, dbeta are [C]; M = N·S values per channel. gamma / beta may be null
// (affine = false: 1 and 0); running_mean / running_var may be null (no update).
//
//   stats_fwd:   mean_c = Σ x / M, var_c = Σ (x - mean_c)^2 / M (two passes: no cancellation),
//                invstd_c = 1 / sqrt(var_c + eps); running ← (1 - momentum)·running +
//                momentum·(mean_c, var_c·M/(M-1))  (PyTorch's momentum, unbiased running var)
//   invstd_fwd:  invstd_c = 1 / sqrt(var_c + eps)  (eval mode: from the running variance)
//   apply_fwd:   y = scale_c·x + shift_c, scale_c = gamma_c·invstd_c, shift_c = beta_c -
//                mean_c·scale_c  (train: batch statistics; eval: running statistics)
//   params_bwd:  dbeta_c = Σ dy, dgamma_c = Σ dy·(x - mean_c)·invstd_c
//   bwd (train): dx = gamma_c·invstd_c·(dy - dbeta_c/M - (x - mean_c)·invstd_c·dgamma_c/M)
//   bwd (eval):  dx = dy·gamma_c·invstd_c  (statistics frozen)
//
// Per-channel sums: one block per channel walking its N planes of S values (a flat index over
// N·S, so BatchNorm1d's S = 1 still spreads over the threads). The elementwise passes: one
// thread per element, the channel is (i / S) % C.

template <typename T>
__device__ void batch_norm_stats_fwd(const T* x, T* mean_out, T* invstd_out, T* running_mean,
                                     T* running_var, u64 n, u64 c, u64 s, double eps,
                                     double momentum) {
    const u64 m = n * s;
    for (u64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
        T sum = T(0);
        for (u64 j = threadIdx.x; j < m; j += blockDim.x) sum += x[((j / s) * c + ch) * s + j % s];
        const T mean = block_sum(sum) / (T)m;
        T ss = T(0);
        for (u64 j = threadIdx.x; j < m; j += blockDim.x) {
            T d = x[((j / s) * c + ch) * s + j % s] - mean;
            ss += d * d;
        }
        const T var = block_sum(ss) / (T)m;
        if (threadIdx.x == 0) {
            mean_out[ch] = mean;
            invstd_out[ch] = T(1) / ag_sqrt(var + (T)eps);
            if (running_mean && running_var) {
                const T mo = (T)momentum;
                const T unbias = m > 1 ? (T)m / (T)(m - 1) : T(1);
                running_mean[ch] = (T(1) - mo) * running_mean[ch] + mo * mean;
                running_var[ch] = (T(1) - mo) * running_var[ch] + mo * var * unbias;
            }
        }
    }
}

template <typename T> __device__ void batch_norm_invstd_fwd(const T* var, T* invstd, u64 c, double eps) {
    GRID_STRIDE(ch, c) invstd[ch] = T(1) / ag_sqrt(var[ch] + (T)eps);
}

template <typename T>
__device__ void batch_norm_apply_fwd(const T* x, const T* gamma, const T* beta, const T* mean,
                                     const T* invstd, T* y, u64 n, u64 c, u64 s) {
    GRID_STRIDE(i, n * c * s) {
        u64 ch = (i / s) % c;
        T scale = (gamma ? gamma[ch] : T(1)) * invstd[ch];
        T shift = (beta ? beta[ch] : T(0)) - mean[ch] * scale;
        y[i] = scale * x[i] + shift;
    }
}

template <typename T>
__device__ void batch_norm_params_bwd(const T* x, const T* dy, const T* mean, const T* invstd,
                                      T* dgamma, T* dbeta, u64 n, u64 c, u64 s) {
    const u64 m = n * s;
    for (u64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
        T sg = T(0), sgx = T(0);
        for (u64 j = threadIdx.x; j < m; j += blockDim.x) {
            u64 at = ((j / s) * c + ch) * s + j % s;
            sg += dy[at];
            sgx += dy[at] * (x[at] - mean[ch]);
        }
        sg = block_sum(sg);
        sgx = block_sum(sgx);
        if (threadIdx.x == 0) {
            dbeta[ch] = sg;
            dgamma[ch] = sgx * invstd[ch];
        }
    }
}

template <typename T>
__device__ void batch_norm_bwd(const T* x, const T* dy, const T* gamma, const T* mean,
                               const T* invstd, const T* dgamma, const T* dbeta, T* dx, u64 n,
                               u64 c, u64 s, int train) {
    const T m = (T)(n * s);
    GRID_STRIDE(i, n * c * s) {
        u64 ch = (i / s) % c;
        T k = (gamma ? gamma[ch] : T(1)) * invstd[ch];
        if (train) {
            T slope = invstd[ch] * dgamma[ch] / m;
            dx[i] = k * (dy[i] - dbeta[ch] / m - (x[i] - mean[ch]) * slope);
        } else {
            dx[i] = k * dy[i];
        }
    }
}

#define BATCHNORM_ENTRIES(T, S)                                                               \
    extern "C" __global__ void batch_norm_stats_fwd_##S(const T* x, T* mean, T* invstd,       \
                                                        T* running_mean, T* running_var,      \
                                                        u64 n, u64 c, u64 s, double eps,      \
                                                        double momentum) {                    \
        batch_norm_stats_fwd(x, mean, invstd, running_mean, running_var, n, c, s, eps,        \
                             momentum);                                                       \
    }                                                                                         \
    extern "C" __global__ void batch_norm_invstd_fwd_##S(const T* var, T* invstd, u64 c,      \
                                                         double eps) {                        \
        batch_norm_invstd_fwd(var, invstd, c, eps);                                           \
    }                                                                                         \
    extern "C" __global__ void batch_norm_apply_fwd_##S(const T* x, const T* gamma,           \
                                                        const T* beta, const T* mean,         \
                                                        const T* invstd, T* y, u64 n, u64 c,  \
                                                        u64 s) {                              \
        batch_norm_apply_fwd(x, gamma, beta, mean, invstd, y, n, c, s);                       \
    }                                                                                         \
    extern "C" __global__ void batch_norm_params_bwd_##S(const T* x, const T* dy,             \
                                                         const T* mean, const T* invstd,      \
                                                         T* dgamma, T* dbeta, u64 n, u64 c,   \
                                                         u64 s) {                             \
        batch_norm_params_bwd(x, dy, mean, invstd, dgamma, dbeta, n, c, s);                   \
    }                                                                                         \
    extern "C" __global__ void batch_norm_bwd_##S(const T* x, const T* dy, const T* gamma,    \
                                                  const T* mean, const T* invstd,             \
                                                  const T* dgamma, const T* dbeta, T* dx,     \
                                                  u64 n, u64 c, u64 s, int train) {           \
        batch_norm_bwd(x, dy, gamma, mean, invstd, dgamma, dbeta, dx, n, c, s, train);        \
    }

BATCHNORM_ENTRIES(float, f32)
BATCHNORM_ENTRIES(double, f64)
