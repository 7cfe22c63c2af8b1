// common.cuh: what every anglegrad kernel module starts with (pasted in front as text).
//
// Self-contained: NVRTC compiles it with no system header, so the few types, limits and math
// overloads the kernels use are defined here. Templates are instantiated for float and double;
// the `extern "C"` entry points of each module are named <op>_<fwd|bwd>_<f32|f64>.
//
// Conventions of all modules:
// - Buffers are dense row-major; sizes that can exceed 2^31 elements are u64, sizes inside one
//   row, plane or GEMM tile are int (the launchers check that they fit).
// - "Along an axis" means the view [outer, len, inner] of the CPU kernels
//   (kernels/src/cpu/reduce.rs), and kernels compute the same function as the CPU reference
//   named in each file's legend.
// - Index buffers hold u64 (the host's usize).

typedef unsigned long long u64;
typedef long long i64;
typedef unsigned int u32;

// ---- limits ---------------------------------------------------------------------------------

template <typename T> struct Lim;
template <> struct Lim<float> {
    __device__ static float inf() { return __int_as_float(0x7f800000); }
    __device__ static float nan() { return __int_as_float(0x7fc00000); }
    __device__ static float eps() { return 1.1920928955078125e-7f; }  // f32::EPSILON
};
template <> struct Lim<double> {
    __device__ static double inf() { return __longlong_as_double(0x7ff0000000000000LL); }
    __device__ static double nan() { return __longlong_as_double(0x7ff8000000000000LL); }
    __device__ static double eps() { return 2.220446049250313e-16; }  // f64::EPSILON
};

// ---- math overloads (float -> the f-suffixed libdevice function) ------------------------------

__device__ __forceinline__ float ag_exp(float x) { return expf(x); }
__device__ __forceinline__ double ag_exp(double x) { return exp(x); }
__device__ __forceinline__ float ag_log(float x) { return logf(x); }
__device__ __forceinline__ double ag_log(double x) { return log(x); }
__device__ __forceinline__ float ag_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double ag_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float ag_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double ag_abs(double x) { return fabs(x); }
__device__ __forceinline__ float ag_sin(float x) { return sinf(x); }
__device__ __forceinline__ double ag_sin(double x) { return sin(x); }
__device__ __forceinline__ float ag_cos(float x) { return cosf(x); }
__device__ __forceinline__ double ag_cos(double x) { return cos(x); }
__device__ __forceinline__ float ag_acos(float x) { return acosf(x); }
__device__ __forceinline__ double ag_acos(double x) { return acos(x); }
__device__ __forceinline__ float ag_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double ag_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float ag_pow(float x, float p) { return powf(x, p); }
__device__ __forceinline__ double ag_pow(double x, double p) { return pow(x, p); }

template <typename T> __device__ __forceinline__ bool ag_isnan(T x) { return x != x; }

// max / min in which a NaN on either side wins (Float::max_nan of the CPU kernels): a NaN must
// never be hidden by a reduction.
template <typename T> __device__ __forceinline__ T max_nan(T a, T b) {
    if (ag_isnan(a) || ag_isnan(b)) return Lim<T>::nan();
    return a >= b ? a : b;
}
template <typename T> __device__ __forceinline__ T min_nan(T a, T b) {
    if (ag_isnan(a) || ag_isnan(b)) return Lim<T>::nan();
    return a <= b ? a : b;
}

// ---- grid-stride loops ----------------------------------------------------------------------

// The launchers size grids to a few waves of the device and let each thread take every
// (gridDim * blockDim)-th element: one launch shape for any n.
#define GRID_STRIDE(i, n)                                                                     \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (u64)(n);                     \
         i += (u64)gridDim.x * blockDim.x)

// ---- block reductions -----------------------------------------------------------------------
// Tree reductions over a block whose size is a multiple of 32 and at most 1024. Every thread
// of the block must call them (they synchronise); all threads get the result.

template <typename T> __device__ __forceinline__ T warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <typename T> __device__ __forceinline__ T warp_max_nan(T v) {
    for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

template <typename T> __device__ T block_sum(T v) {
    __shared__ T partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // partial[] may still be read by a previous call
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < warps ? partial[lane] : T(0);
    return warp_sum(v);
}

template <typename T> __device__ T block_max_nan(T v) {
    __shared__ T partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max_nan(v);
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < warps ? partial[lane] : -Lim<T>::inf();
    return warp_max_nan(v);
}

// ---- broadcasting ---------------------------------------------------------------------------
// Numpy broadcasting as index arithmetic (kernels/src/cpu/broadcast.rs): an input is read
// through its row-major strides with 0 on the axes where it has size 1. The launcher merges
// neighbouring axes that every operand walks contiguously, so rank is usually 1 to 3.

#define AG_MAX_RANK 8
struct Broadcast {
    u64 dims[AG_MAX_RANK];        // the output's dims
    u64 strides[3][AG_MAX_RANK];  // per input (up to three), 0 on broadcast axes
    int rank;
    int same[3];                  // 1: this input has the output's shape (offset = i)
};

// Offset into input `which` of output element i.
__device__ __forceinline__ u64 bcast_offset(const Broadcast& b, int which, u64 i) {
    if (b.same[which]) return i;
    u64 off = 0;
    for (int ax = b.rank - 1; ax >= 0; --ax) {
        u64 d = b.dims[ax];
        off += (i % d) * b.strides[which][ax];
        i /= d;
    }
    return off;
}
