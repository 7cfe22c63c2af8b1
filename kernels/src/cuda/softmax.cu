// softmax.cu: row-wise softmax, log-softmax, the fused softmax cross-entropy, and backwards.
//
// Shape legend (the CPU reference is kernels/src/cpu/softmax.rs): x, y, g, dx, probs are
// [rows, cols]; labels (u64), losses and g_loss are [rows].
//
//   softmax:      y_j = exp(x_j - M) / Σ_k exp(x_k - M),  M = max_k x_k (a NaN row stays NaN)
//   log_softmax:  y_j = x_j - M - log Σ_k exp(x_k - M)
//   softmax_bwd:      dx_j = y_j (g_j - Σ_k g_k y_k)
//   log_softmax_bwd:  dx_j = g_j - exp(y_j) Σ_k g_k
//   cross_entropy:    loss_r = -log_softmax(x_r)[label_r], probs_r = softmax(x_r)
//   cross_entropy_bwd: dx_rj = g_loss_r (probs_rj - [j = label_r])
//
// One block per row (grid-stride over rows); the threads stride along the row, so each pass is
// a coalesced sweep, and the row max and sum are block tree reductions. Three passes over the
// row (max, sum, write); the row is re-read from L2 rather than kept in shared memory, which
// keeps any row length possible.

template <typename T> struct RowStats { T max; T log_z; };

// M and log Z = M + log Σ exp(x - M) of one row; every thread of the block gets them.
template <typename T> __device__ RowStats<T> row_stats(const T* row, u64 cols) {
    T m = -Lim<T>::inf();
    for (u64 j = threadIdx.x; j < cols; j += blockDim.x) m = max_nan(m, row[j]);
    m = block_max_nan(m);
    T s = T(0);
    for (u64 j = threadIdx.x; j < cols; j += blockDim.x) s += ag_exp(row[j] - m);
    s = block_sum(s);
    RowStats<T> st;
    st.max = m;
    st.log_z = m + ag_log(s);
    return st;
}

template <typename T> __device__ void softmax_fwd(const T* x, T* y, u64 rows, u64 cols) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        RowStats<T> st = row_stats(xr, cols);
        for (u64 j = threadIdx.x; j < cols; j += blockDim.x) y[r * cols + j] = ag_exp(xr[j] - st.log_z);
    }
}

template <typename T> __device__ void log_softmax_fwd(const T* x, T* y, u64 rows, u64 cols) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        RowStats<T> st = row_stats(xr, cols);
        for (u64 j = threadIdx.x; j < cols; j += blockDim.x) y[r * cols + j] = xr[j] - st.log_z;
    }
}

template <typename T>
__device__ void softmax_bwd(const T* y, const T* g, T* dx, u64 rows, u64 cols) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *yr = y + r * cols, *gr = g + r * cols;
        T dot = T(0);
        for (u64 j = threadIdx.x; j < cols; j += blockDim.x) dot += gr[j] * yr[j];
        dot = block_sum(dot);
        for (u64 j = threadIdx.x; j < cols; j += blockDim.x) dx[r * cols + j] = yr[j] * (gr[j] - dot);
    }
}

template <typename T>
__device__ void log_softmax_bwd(const T* y, const T* g, T* dx, u64 rows, u64 cols) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *yr = y + r * cols, *gr = g + r * cols;
        T total = T(0);
        for (u64 j = threadIdx.x; j < cols; j += blockDim.x) total += gr[j];
        total = block_sum(total);
        for (u64 j = threadIdx.x; j < cols; j += blockDim.x)
            dx[r * cols + j] = gr[j] - ag_exp(yr[j]) * total;
    }
}

// A label out of range gives a NaN loss (the ops crate checks labels before launching).
template <typename T>
__device__ void cross_entropy_fwd(const T* x, const u64* labels, T* losses, T* probs, u64 rows,
                                  u64 cols) {
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        RowStats<T> st = row_stats(xr, cols);
        for (u64 j = threadIdx.x; j < cols; j += blockDim.x) probs[r * cols + j] = ag_exp(xr[j] - st.log_z);
        if (threadIdx.x == 0) {
            u64 label = labels[r];
            losses[r] = label < cols ? st.log_z - xr[label] : Lim<T>::nan();
        }
    }
}

template <typename T>
__device__ void cross_entropy_bwd(const T* probs, const u64* labels, const T* g_loss, T* dx,
                                  u64 rows, u64 cols) {
    GRID_STRIDE(i, rows * cols) {
        u64 r = i / cols, j = i % cols;
        dx[i] = g_loss[r] * (probs[i] - (labels[r] == j ? T(1) : T(0)));
    }
}

#define SOFTMAX_ENTRIES(T, S)                                                                 \
    extern "C" __global__ void softmax_fwd_##S(const T* x, T* y, u64 rows, u64 cols) {        \
        softmax_fwd(x, y, rows, cols);                                                        \
    }                                                                                         \
    extern "C" __global__ void log_softmax_fwd_##S(const T* x, T* y, u64 rows, u64 cols) {    \
        log_softmax_fwd(x, y, rows, cols);                                                    \
    }                                                                                         \
    extern "C" __global__ void softmax_bwd_##S(const T* y, const T* g, T* dx, u64 rows,       \
                                               u64 cols) {                                    \
        softmax_bwd(y, g, dx, rows, cols);                                                    \
    }                                                                                         \
    extern "C" __global__ void log_softmax_bwd_##S(const T* y, const T* g, T* dx, u64 rows,   \
                                                   u64 cols) {                                \
        log_softmax_bwd(y, g, dx, rows, cols);                                                \
    }                                                                                         \
    extern "C" __global__ void cross_entropy_fwd_##S(const T* x, const u64* labels,           \
                                                     T* losses, T* probs, u64 rows,           \
                                                     u64 cols) {                              \
        cross_entropy_fwd(x, labels, losses, probs, rows, cols);                              \
    }                                                                                         \
    extern "C" __global__ void cross_entropy_bwd_##S(const T* probs, const u64* labels,       \
                                                     const T* g_loss, T* dx, u64 rows,        \
                                                     u64 cols) {                              \
        cross_entropy_bwd(probs, labels, g_loss, dx, rows, cols);                             \
    }

SOFTMAX_ENTRIES(float, f32)
SOFTMAX_ENTRIES(double, f64)
