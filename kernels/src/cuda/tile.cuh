// tile.cuh: the block tile of a GEMM, shared by the SGEMM (gemm.cu) and the implicit-GEMM
// convolutions (conv.cu), which differ only in how they read their operands.
//
// Shape legend: a block computes the TILE_M x TILE_N tile C[bm.., bn..] of C = A·B with
// A [M, K] and B [K, N], K walked TILE_K at a time over [k_lo, k_hi).
//
// How (the classic shared-memory SGEMM; Volkov & Demmel 2008, the CUTLASS docs):
// - 256 threads. Each loads 4 consecutive elements of the A tile and 4 of the B tile per step
//   (64 x 16 = 1024 = 256 x 4), along whichever direction is contiguous in memory (the
//   operand says which), so a warp's loads coalesce and, where the operand allows, are single
//   16-byte vector loads.
// - The tiles go to shared memory, A stored transposed (k-major) so that every thread reads its
//   4 rows of A and 4 columns of B for one k as two 16-byte vectors. Rows are padded by 4
//   elements: stores that walk k land in different banks, vector reads stay aligned.
// - Register blocking: each thread owns a 4 x 4 block of C (rows ty·4.., cols tx·4..) kept in
//   registers for the whole K loop: 8 shared loads feed 16 FMAs.
// - Double buffering: the next tile is loaded into registers while the current one is
//   multiplied, then stored to the other shared buffer; one barrier per step.
//
// An operand type `Op` provides:
//   static constexpr bool A_K_CONTIG  // A(m, k..k+3) adjacent (else A(m..m+3, k))
//   static constexpr bool B_K_CONTIG  // B(k..k+3, n) adjacent (else B(k, n..n+3))
//   __device__ void load_a(int m, int k, T v[4]) const;  // the 4 elements from (m, k) along
//   __device__ void load_b(int k, int n, T v[4]) const;  //   the contiguous direction, 0 outside

#define TILE_M 64
#define TILE_N 64
#define TILE_K 16
#define TILE_THREADS 256
#define TILE_PAD 4

// 16-byte aligned: the vector reads of smem_vec4 need it.
template <typename T> struct __align__(16) TileSmem {
    T a[2][TILE_K][TILE_M + TILE_PAD];  // A tile, k-major
    T b[2][TILE_K][TILE_N + TILE_PAD];  // B tile, k-major
};

// 4 consecutive elements from a 16-byte aligned address in one (f32) or two (f64) vector loads.
template <typename T> __device__ __forceinline__ void load_vec4(const T* p, T v[4]) {
    if constexpr (sizeof(T) == 4) {
        float4 q = *reinterpret_cast<const float4*>(p);
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    } else {
        double2 q0 = *reinterpret_cast<const double2*>(p);
        double2 q1 = *reinterpret_cast<const double2*>(p + 2);
        v[0] = q0.x; v[1] = q0.y; v[2] = q1.x; v[3] = q1.y;
    }
}

// 4 consecutive elements of a shared-memory row (16-byte aligned by construction).
template <typename T> __device__ __forceinline__ void smem_vec4(const T* p, T v[4]) { load_vec4(p, v); }

// acc[i][j] += Σ_k A(bm + ty·4 + i, k) · B(k, bn + tx·4 + j) over k in [k_lo, k_hi).
// k_lo is a multiple of TILE_K; every thread of the block must call it.
template <typename T, typename Op>
__device__ void tile_mainloop(const Op& op, int k_lo, int k_hi, int bm, int bn, T acc[4][4],
                              TileSmem<T>& sm) {
    const int t = threadIdx.x, tx = t & 15, ty = t >> 4;
    // Where this thread's 4-element loads sit inside the A and B tiles.
    const int a_m = Op::A_K_CONTIG ? t >> 2 : (t & 15) * 4;
    const int a_k = Op::A_K_CONTIG ? (t & 3) * 4 : t >> 4;
    const int b_n = Op::B_K_CONTIG ? t >> 2 : (t & 15) * 4;
    const int b_k = Op::B_K_CONTIG ? (t & 3) * 4 : t >> 4;
    T ra[4], rb[4];

    auto store = [&](int buf) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            if (Op::A_K_CONTIG) sm.a[buf][a_k + j][a_m] = ra[j];
            else sm.a[buf][a_k][a_m + j] = ra[j];
            if (Op::B_K_CONTIG) sm.b[buf][b_k + j][b_n] = rb[j];
            else sm.b[buf][b_k][b_n + j] = rb[j];
        }
    };

    const int tiles = (k_hi - k_lo + TILE_K - 1) / TILE_K;
    if (tiles <= 0) return;
    op.load_a(bm + a_m, k_lo + a_k, ra);
    op.load_b(k_lo + b_k, bn + b_n, rb);
    store(0);
    __syncthreads();
    for (int kt = 0; kt < tiles; ++kt) {
        const int cur = kt & 1;
        const bool more = kt + 1 < tiles;
        if (more) {  // the next tile's global loads are in flight during this tile's FMAs
            const int k0 = k_lo + (kt + 1) * TILE_K;
            op.load_a(bm + a_m, k0 + a_k, ra);
            op.load_b(k0 + b_k, bn + b_n, rb);
        }
#pragma unroll
        for (int kk = 0; kk < TILE_K; ++kk) {
            T af[4], bf[4];
            smem_vec4(&sm.a[cur][kk][ty * 4], af);
            smem_vec4(&sm.b[cur][kk][tx * 4], bf);
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += af[i] * bf[j];
        }
        if (more) store(cur ^ 1);
        __syncthreads();
    }
}
