// gemm.cu: our own tiled GEMM, C = alpha·op(A)·op(B) + beta·C, row-major, batched.
//
// Shape legend (the CPU reference is kernels/src/cpu/gemm, gemm_ref / gemm_batched):
//   op(A) [m, k]: A stored [m, k] (row stride lda) or, with trans_a, [k, m]
//   op(B) [k, n]: B stored [k, n] (row stride ldb) or, with trans_b, [n, k]
//   C     [m, n]: row stride ldc
//   batch: grid.z; matrix z starts at a + z·stride_a, b + z·stride_b, c + z·stride_c
// As in BLAS, beta = 0 overwrites C without reading it (a NaN in C does not leak through) and
// alpha = 0 reads neither A nor B.
//
// The block tile, register blocking and double buffering are in tile.cuh; this file only says
// how to read A and B: along their contiguous direction, with one 16-byte vector load when
// the launcher found the base address 16-byte aligned and the row stride a multiple of 16
// bytes (vec_a / vec_b), else element by element. The four transpose cases are four
// instantiations of one template, picked by a uniform branch.

template <typename T, bool TA, bool TB> struct GemmOperands {
    static constexpr bool A_K_CONTIG = !TA;  // A [m, k]: k contiguous; Aᵀ stored [k, m]: m
    static constexpr bool B_K_CONTIG = TB;   // B [k, n]: n contiguous; Bᵀ stored [n, k]: k
    const T* a;
    const T* b;
    int m, n, k, lda, ldb, vec_a, vec_b;

    // A(mi.., ki) for trans_a, A(mi, ki..) otherwise.
    __device__ void load_a(int mi, int ki, T v[4]) const {
        if (!TA) {
            const T* row = a + (u64)mi * lda;
            if (mi < m && vec_a && ki + 3 < k) { load_vec4(row + ki, v); return; }
#pragma unroll
            for (int j = 0; j < 4; ++j) v[j] = (mi < m && ki + j < k) ? row[ki + j] : T(0);
        } else {
            const T* row = a + (u64)ki * lda;
            if (ki < k && vec_a && mi + 3 < m) { load_vec4(row + mi, v); return; }
#pragma unroll
            for (int j = 0; j < 4; ++j) v[j] = (ki < k && mi + j < m) ? row[mi + j] : T(0);
        }
    }

    // B(ki.., ni) for trans_b, B(ki, ni..) otherwise.
    __device__ void load_b(int ki, int ni, T v[4]) const {
        if (!TB) {
            const T* row = b + (u64)ki * ldb;
            if (ki < k && vec_b && ni + 3 < n) { load_vec4(row + ni, v); return; }
#pragma unroll
            for (int j = 0; j < 4; ++j) v[j] = (ki < k && ni + j < n) ? row[ni + j] : T(0);
        } else {
            const T* row = b + (u64)ni * ldb;
            if (ni < n && vec_b && ki + 3 < k) { load_vec4(row + ki, v); return; }
#pragma unroll
            for (int j = 0; j < 4; ++j) v[j] = (ni < n && ki + j < k) ? row[ki + j] : T(0);
        }
    }
};

struct GemmArgs {
    u64 stride_a, stride_b, stride_c;  // elements between the matrices of a batch
    double alpha, beta;
    int m, n, k, lda, ldb, ldc;
    int trans_a, trans_b, vec_a, vec_b;
};

template <typename T, bool TA, bool TB>
__device__ void gemm_tile(const T* a, const T* b, T* c, const GemmArgs& g, TileSmem<T>& sm) {
    GemmOperands<T, TA, TB> op{a, b, g.m, g.n, g.k, g.lda, g.ldb, g.vec_a, g.vec_b};
    const int bm = blockIdx.y * TILE_M, bn = blockIdx.x * TILE_N;
    T acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = T(0);
    // alpha = 0 reads neither A nor B (BLAS): C = beta·C even where A or B hold NaN.
    if (g.alpha != 0.0) tile_mainloop(op, 0, g.k, bm, bn, acc, sm);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const T alpha = (T)g.alpha, beta = (T)g.beta;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        int row = bm + ty * 4 + i;
        if (row >= g.m) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int col = bn + tx * 4 + j;
            if (col >= g.n) continue;
            T* out = c + (u64)row * g.ldc + col;
            *out = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *out;
        }
    }
}

template <typename T> __device__ void gemm_fwd(const T* a, const T* b, T* c, const GemmArgs& g) {
    __shared__ TileSmem<T> sm;
    const u64 z = blockIdx.z;
    a += z * g.stride_a;
    b += z * g.stride_b;
    c += z * g.stride_c;
    if (!g.trans_a && !g.trans_b) gemm_tile<T, false, false>(a, b, c, g, sm);
    else if (!g.trans_a && g.trans_b) gemm_tile<T, false, true>(a, b, c, g, sm);
    else if (g.trans_a && !g.trans_b) gemm_tile<T, true, false>(a, b, c, g, sm);
    else gemm_tile<T, true, true>(a, b, c, g, sm);
}

extern "C" __global__ void __launch_bounds__(TILE_THREADS)
    gemm_fwd_f32(const float* a, const float* b, float* c, GemmArgs g) {
    gemm_fwd(a, b, c, g);
}
extern "C" __global__ void __launch_bounds__(TILE_THREADS)
    gemm_fwd_f64(const double* a, const double* b, double* c, GemmArgs g) {
    gemm_fwd(a, b, c, g);
}
