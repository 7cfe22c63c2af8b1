// metric.cu: the metric-learning kernels: pairwise squared distances, l2-normalisation, top-k
// and the angular margins φ of the margin-softmax losses.
//
// Shape legend (the CPU references are in ops/src/metric/ and ops/src/composite.rs):
//   pairwise_sq_dist_fwd:  a [N, D], b [M, D] -> out [N, M], out_ij = Σ_k (a_ik - b_jk)^2
//                          (explicit differences: exactly 0 for identical rows, LOSSES.md §0)
//   pairwise_sq_dist_bwd:  out [P, D], out_pk = 2 Σ_q G(p, q) (x_pk - y_qk); for ∂/∂a: x = a,
//                          y = b, G(p, q) = G[p, q]; for ∂/∂b (side = 1): x = b, y = a,
//                          G(p, q) = G[q, p]. G = ∂L/∂out is [N, M].
//   l2_normalize:          x viewed as [outer, len, inner], normalised along len:
//                          y = x / sqrt(Σ x^2 + eps);  bwd: dx = (g - u (u·g)) / sqrt(Σ x^2 + eps),
//                          u = y (the component of g along u is removed)
//   topk_fwd:              x [outer, len, inner] -> values, indices [outer, k, inner]: the k
//                          largest (or smallest) in order, ties to the lower index, NaN sorts as
//                          the largest value (ops/src/metric/topk.rs, a stable sort)
//   margin_fwd / bwd:      φ(c) and g·dφ/dc elementwise over [n], in double whatever T
//                          (ops/src/metric/margin.rs, MarginFn::value / derivative)

// ---- pairwise squared distances -------------------------------------------------------------

#define PD_TILE 16

// One 16 x 16 tile of out per block; a and b are brought through shared memory 16 features at
// a time, so each loaded value is used 16 times. Rows of Bs are padded by one to keep the
// column reads Bs[tx][k] of a warp in distinct banks.
template <typename T>
__device__ void pairwise_sq_dist_fwd(const T* a, const T* b, T* out, int n, int m, int d) {
    __shared__ T As[PD_TILE][PD_TILE + 1];
    __shared__ T Bs[PD_TILE][PD_TILE + 1];
    int tx = threadIdx.x, ty = threadIdx.y;
    int i = blockIdx.y * PD_TILE + ty, j = blockIdx.x * PD_TILE + tx;
    int bi = blockIdx.y * PD_TILE, bj = blockIdx.x * PD_TILE;
    T acc = T(0);
    for (int k0 = 0; k0 < d; k0 += PD_TILE) {
        As[ty][tx] = (bi + ty < n && k0 + tx < d) ? a[(u64)(bi + ty) * d + k0 + tx] : T(0);
        Bs[ty][tx] = (bj + ty < m && k0 + tx < d) ? b[(u64)(bj + ty) * d + k0 + tx] : T(0);
        __syncthreads();
        int kk = min(PD_TILE, d - k0);
        for (int k = 0; k < kk; ++k) {
            T diff = As[ty][k] - Bs[tx][k];
            acc += diff * diff;
        }
        __syncthreads();
    }
    if (i < n && j < m) out[(u64)i * m + j] = acc;
}

// One thread per output element (p, k); neighbouring threads take neighbouring k, so the reads
// of x and y coalesce and G(p, q) is one broadcast per warp.
template <typename T>
__device__ void pairwise_sq_dist_bwd(const T* x, const T* y, const T* g, T* out, int p_len,
                                     int q_len, int d, int side) {
    GRID_STRIDE(at, (u64)p_len * d) {
        int p = (int)(at / d), k = (int)(at % d);
        T xv = x[at], acc = T(0);
        for (int q = 0; q < q_len; ++q) {
            T gv = side == 0 ? g[(u64)p * q_len + q] : g[(u64)q * p_len + p];
            acc += gv * (xv - y[(u64)q * d + k]);
        }
        out[at] = T(2) * acc;
    }
}

// ---- l2-normalisation: one warp per vector --------------------------------------------------

template <typename T>
__device__ void l2_normalize_fwd(const T* x, T* y, u64 outer, u64 len, u64 inner, double eps) {
    int lane = threadIdx.x & 31;
    u64 warps = ((u64)gridDim.x * blockDim.x) >> 5;
    for (u64 v = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; v < outer * inner; v += warps) {
        const T* xv = x + (v / inner) * len * inner + v % inner;
        T* yv = y + (v / inner) * len * inner + v % inner;
        T s = T(0);
        for (u64 l = lane; l < len; l += 32) s += xv[l * inner] * xv[l * inner];
        T norm = ag_sqrt(warp_sum(s) + (T)eps);
        for (u64 l = lane; l < len; l += 32) yv[l * inner] = xv[l * inner] / norm;
    }
}

template <typename T>
__device__ void l2_normalize_bwd(const T* x, const T* g, T* dx, u64 outer, u64 len, u64 inner,
                                 double eps) {
    int lane = threadIdx.x & 31;
    u64 warps = ((u64)gridDim.x * blockDim.x) >> 5;
    for (u64 v = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; v < outer * inner; v += warps) {
        u64 base = (v / inner) * len * inner + v % inner;
        T s = T(0), xg = T(0);
        for (u64 l = lane; l < len; l += 32) {
            T xl = x[base + l * inner];
            s += xl * xl;
            xg += xl * g[base + l * inner];
        }
        T norm = ag_sqrt(warp_sum(s) + (T)eps);
        T ug = warp_sum(xg) / norm;  // u·g with u = x / norm
        for (u64 l = lane; l < len; l += 32) {
            u64 at = base + l * inner;
            dx[at] = (g[at] - x[at] / norm * ug) / norm;
        }
    }
}

// ---- top-k: one block per column, k rounds of a block arg-reduction --------------------------
// The result is the first k elements of the column sorted by the total order "p before q" (a
// stable sort by value). Round r picks the first element, in that order, among those after the
// pick of round r - 1: O(k · len) work per column, good for the small k of rank-k retrieval.

#define TOPK_NONE (~0ull)

// Whether (v1, i1) comes before (v2, i2): by value (NaN above every number, two NaNs equal),
// largest or smallest first, then by index. TOPK_NONE (no candidate) comes after everything.
template <typename T>
__device__ __forceinline__ bool topk_before(T v1, u64 i1, T v2, u64 i2, int largest) {
    if (i1 == TOPK_NONE) return false;
    if (i2 == TOPK_NONE) return true;
    bool n1 = ag_isnan(v1), n2 = ag_isnan(v2);
    int cmp;  // sign of (v1 - v2) with NaN as the largest value
    if (n1 || n2) cmp = (n1 && !n2) ? 1 : ((n2 && !n1) ? -1 : 0);
    else cmp = v1 > v2 ? 1 : (v1 < v2 ? -1 : 0);
    if (!largest) cmp = -cmp;
    return cmp > 0 || (cmp == 0 && i1 < i2);
}

template <typename T>
__device__ void topk_fwd(const T* x, T* values, u64* indices, u64 outer, u64 len, u64 inner,
                         u64 k, int largest) {
    __shared__ T vs[32];
    __shared__ u64 is[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (u64 c = blockIdx.x; c < outer * inner; c += gridDim.x) {
        u64 o = c / inner, i = c % inner;
        const T* col = x + o * len * inner + i;
        T prev_v = T(0);
        u64 prev_i = TOPK_NONE;
        for (u64 r = 0; r < k; ++r) {
            T best_v = T(0);
            u64 best_i = TOPK_NONE;
            for (u64 l = threadIdx.x; l < len; l += blockDim.x) {
                T v = col[l * inner];
                bool after_prev = prev_i == TOPK_NONE || topk_before(prev_v, prev_i, v, l, largest);
                if (after_prev && topk_before(v, l, best_v, best_i, largest)) { best_v = v; best_i = l; }
            }
            for (int s = 16; s > 0; s >>= 1) {
                T v2 = __shfl_xor_sync(0xffffffffu, best_v, s);
                u64 i2 = __shfl_xor_sync(0xffffffffu, best_i, s);
                if (topk_before(v2, i2, best_v, best_i, largest)) { best_v = v2; best_i = i2; }
            }
            if (lane == 0) { vs[warp] = best_v; is[warp] = best_i; }
            __syncthreads();
            best_v = lane < warps ? vs[lane] : T(0);
            best_i = lane < warps ? is[lane] : TOPK_NONE;
            for (int s = 16; s > 0; s >>= 1) {
                T v2 = __shfl_xor_sync(0xffffffffu, best_v, s);
                u64 i2 = __shfl_xor_sync(0xffffffffu, best_i, s);
                if (topk_before(v2, i2, best_v, best_i, largest)) { best_v = v2; best_i = i2; }
            }
            __syncthreads();  // vs / is are rewritten by the next round
            if (threadIdx.x == 0) {
                values[(o * k + r) * inner + i] = best_v;
                indices[(o * k + r) * inner + i] = best_i;
            }
            prev_v = best_v;
            prev_i = best_i;
        }
    }
}

// ---- angular margins φ(c) (LOSSES.md §0, §4, §5, §7, §8) ------------------------------------

#define AG_PI 3.141592653589793
// Floor of sin θ in the derivative of the angular margins (ops: SIN_THETA_FLOOR = sqrt(1e-9)).
#define SIN_THETA_FLOOR 3.1622776601683795e-5

enum MarginKind { M_ADDITIVE, M_ANGULAR, M_ANGULAR_ACOS, M_COMBINED, M_MULTIPLICATIVE };
enum Fallback { F_THRESHOLD, F_EASY_MARGIN, F_NONE };

struct MarginArgs {
    double m, m1, m2, m3;  // m: Additive, Angular, AngularAcos; m1..m3: Combined
    int kind;              // MarginKind
    int fallback;          // Fallback, for Angular
    int mi;                // the integer m of Multiplicative (ψ of SphereFace)
    int pad;
};

__device__ __forceinline__ double clamp_unit(double c) { return c < -1.0 ? -1.0 : (c > 1.0 ? 1.0 : c); }
__device__ __forceinline__ double sin_theta(double c) { return sqrt(fmax(1.0 - c * c, 0.0)); }
__device__ __forceinline__ double sign_pow(double k) { return fmod(k, 2.0) == 0.0 ? 1.0 : -1.0; }

// cos(mθ) = T_m(c) and its derivative m·U_{m-1}(c), by the three-term recurrences.
__device__ void chebyshev(int m, double c, double& t_out, double& dt_out) {
    double t_prev = 1.0, t = c, u_prev = 0.0, u = 1.0;
    for (int i = 1; i < m; ++i) {
        double tn = 2.0 * c * t - t_prev; t_prev = t; t = tn;
        double un = 2.0 * c * u - u_prev; u_prev = u; u = un;
    }
    if (m == 0) { t_out = 1.0; dt_out = 0.0; }
    else { t_out = t; dt_out = m * u; }
}

// k of ψ: how many of cos(jπ/m), j = 1..m-1, lie strictly above c.
__device__ int psi_k(int m, double c) {
    int k = 0;
    for (int j = 1; j < m; ++j) k += c < cos(j * AG_PI / m) ? 1 : 0;
    return k;
}

__device__ bool angular_in_fallback(const MarginArgs& a, double c) {
    if (a.fallback == F_THRESHOLD) return c <= cos(AG_PI - a.m);
    if (a.fallback == F_EASY_MARGIN) return c <= 0.0;
    return false;
}

__device__ double margin_value(const MarginArgs& a, double c) {
    c = clamp_unit(c);
    switch (a.kind) {
    case M_ADDITIVE: return c - a.m;
    case M_ANGULAR: {
        double arc = c * cos(a.m) - sin_theta(c) * sin(a.m);
        if (a.fallback == F_THRESHOLD && c <= cos(AG_PI - a.m)) return c - a.m * sin(a.m);
        if (a.fallback == F_EASY_MARGIN && c <= 0.0) return c;
        return arc;
    }
    case M_ANGULAR_ACOS: return cos(acos(c) + a.m);
    case M_COMBINED: {
        if (a.m1 == 1.0) return c * cos(a.m2) - sin_theta(c) * sin(a.m2) - a.m3;
        double alpha = a.m1 * acos(c) + a.m2;  // the ψ-style monotone extension of cos(α)
        double k = fmax(floor(alpha / AG_PI), 0.0);
        return sign_pow(k) * cos(alpha) - 2.0 * k - a.m3;
    }
    case M_MULTIPLICATIVE: {
        int k = psi_k(a.mi, c);
        double t, dt;
        chebyshev(a.mi, c, t, dt);
        return sign_pow((double)k) * t - 2.0 * k;
    }
    }
    return __longlong_as_double(0x7ff8000000000000LL);
}

__device__ double margin_derivative(const MarginArgs& a, double c) {
    c = clamp_unit(c);
    double sin_t = fmax(sin_theta(c), SIN_THETA_FLOOR);
    switch (a.kind) {
    case M_ADDITIVE: return 1.0;
    case M_ANGULAR:
        if (angular_in_fallback(a, c)) return 1.0;
        return cos(a.m) + sin(a.m) * c / sin_t;  // = sin(θ + m) / sin θ
    case M_ANGULAR_ACOS: return cos(a.m) + sin(a.m) * c / sin_t;
    case M_COMBINED: {
        if (a.m1 == 1.0) return cos(a.m2) + sin(a.m2) * c / sin_t;
        double alpha = a.m1 * acos(c) + a.m2;  // d/dc (-1)^k cos α = (-1)^k sin α · m1 / sin θ
        double k = fmax(floor(alpha / AG_PI), 0.0);
        return sign_pow(k) * sin(alpha) * a.m1 / sin_t;
    }
    case M_MULTIPLICATIVE: {
        int k = psi_k(a.mi, c);
        double t, dt;
        chebyshev(a.mi, c, t, dt);
        return sign_pow((double)k) * dt;
    }
    }
    return __longlong_as_double(0x7ff8000000000000LL);
}

template <typename T> __device__ void margin_fwd(const T* c, T* out, u64 n, const MarginArgs& a) {
    GRID_STRIDE(i, n) out[i] = (T)margin_value(a, (double)c[i]);
}

template <typename T>
__device__ void margin_bwd(const T* c, const T* g, T* dc, u64 n, const MarginArgs& a) {
    GRID_STRIDE(i, n) dc[i] = g[i] * (T)margin_derivative(a, (double)c[i]);
}

#define METRIC_ENTRIES(T, S)                                                                  \
    extern "C" __global__ void pairwise_sq_dist_fwd_##S(const T* a, const T* b, T* out, int n, \
                                                        int m, int d) {                       \
        pairwise_sq_dist_fwd(a, b, out, n, m, d);                                             \
    }                                                                                         \
    extern "C" __global__ void pairwise_sq_dist_bwd_##S(const T* x, const T* y, const T* g,    \
                                                        T* out, int p, int q, int d,          \
                                                        int side) {                           \
        pairwise_sq_dist_bwd(x, y, g, out, p, q, d, side);                                    \
    }                                                                                         \
    extern "C" __global__ void l2_normalize_fwd_##S(const T* x, T* y, u64 outer, u64 len,     \
                                                    u64 inner, double eps) {                  \
        l2_normalize_fwd(x, y, outer, len, inner, eps);                                       \
    }                                                                                         \
    extern "C" __global__ void l2_normalize_bwd_##S(const T* x, const T* g, T* dx, u64 outer, \
                                                    u64 len, u64 inner, double eps) {         \
        l2_normalize_bwd(x, g, dx, outer, len, inner, eps);                                   \
    }                                                                                         \
    extern "C" __global__ void topk_fwd_##S(const T* x, T* values, u64* indices, u64 outer,   \
                                            u64 len, u64 inner, u64 k, int largest) {         \
        topk_fwd(x, values, indices, outer, len, inner, k, largest);                          \
    }                                                                                         \
    extern "C" __global__ void margin_fwd_##S(const T* c, T* out, u64 n, MarginArgs a) {      \
        margin_fwd(c, out, n, a);                                                             \
    }                                                                                         \
    extern "C" __global__ void margin_bwd_##S(const T* c, const T* g, T* dc, u64 n,           \
                                              MarginArgs a) {                                 \
        margin_bwd(c, g, dc, n, a);                                                           \
    }

METRIC_ENTRIES(float, f32)
METRIC_ENTRIES(double, f64)
