// movement.cu: permute, slices along an axis, index_select / index_add, gather / scatter_add.
//
// Shape legend (the CPU reference is kernels/src/cpu/movement.rs): "along an axis" views a
// tensor as [outer, len, inner]; indices are u64.
//
//   permute:           out[i] = x[offset of i], the offsets from the permuted input strides
//                      (a `Broadcast` whose input 0 carries them; out has n elements)
//   narrow_fwd:        out[o, l, i] = x[o, start + l, i], out is [outer, out_len, inner]
//   narrow_bwd:        dx[o, start + l, i] = g[o, l, i]: writes the slice only (the launcher
//                      zero-fills dx first for a narrow's backward, and not for a concat)
//   index_select_fwd:  out[o, j, i] = x[o, idx[j], i], idx is [n], out is [outer, n, inner]
//   index_select_bwd:  dx[o, idx[j], i] += g[o, j, i]   (index_add; repeated indices add)
//   gather_fwd:        out[o, j, i] = x[o, index[o, j, i], i], index and out are [outer, n, inner]
//   gather_bwd:        dst[o, index[o, j, i], i] += src[o, j, i]   (scatter_add)
//
// The adds go through atomicAdd, so repeated indices are summed in no fixed order: results can
// differ from the CPU's in the last bits. An index out of [0, len) is a caller's bug (the ops
// crate checks them); here it reads as NaN and is skipped when writing, never out of bounds.

template <typename T> __device__ void permute_fwd(const T* x, T* out, u64 n, const Broadcast& p) {
    GRID_STRIDE(i, n) out[i] = x[bcast_offset(p, 0, i)];
}

template <typename T>
__device__ void narrow_fwd(const T* x, T* out, u64 outer, u64 len, u64 inner, u64 start,
                           u64 out_len) {
    u64 chunk = out_len * inner;
    GRID_STRIDE(i, outer * chunk) {
        u64 o = i / chunk, rest = i % chunk;
        out[i] = x[o * len * inner + start * inner + rest];
    }
}

template <typename T>
__device__ void narrow_bwd(const T* g, T* dx, u64 outer, u64 len, u64 inner, u64 start,
                           u64 out_len) {
    u64 chunk = out_len * inner;
    GRID_STRIDE(i, outer * chunk) {
        u64 o = i / chunk, rest = i % chunk;
        dx[o * len * inner + start * inner + rest] = g[i];
    }
}

template <typename T>
__device__ void index_select_fwd(const T* x, const u64* idx, T* out, u64 outer, u64 len,
                                 u64 inner, u64 n) {
    GRID_STRIDE(at, outer * n * inner) {
        u64 i = at % inner, j = (at / inner) % n, o = at / (inner * n);
        u64 l = idx[j];
        out[at] = l < len ? x[(o * len + l) * inner + i] : Lim<T>::nan();
    }
}

template <typename T>
__device__ void index_select_bwd(const T* g, const u64* idx, T* dx, u64 outer, u64 len,
                                 u64 inner, u64 n) {
    GRID_STRIDE(at, outer * n * inner) {
        u64 i = at % inner, j = (at / inner) % n, o = at / (inner * n);
        u64 l = idx[j];
        if (l < len) atomicAdd(dx + (o * len + l) * inner + i, g[at]);
    }
}

template <typename T>
__device__ void gather_fwd(const T* x, const u64* index, T* out, u64 outer, u64 len, u64 inner,
                           u64 n) {
    GRID_STRIDE(at, outer * n * inner) {
        u64 i = at % inner, o = at / (inner * n);
        u64 l = index[at];
        out[at] = l < len ? x[(o * len + l) * inner + i] : Lim<T>::nan();
    }
}

template <typename T>
__device__ void gather_bwd(const T* src, const u64* index, T* dst, u64 outer, u64 len,
                           u64 inner, u64 n) {
    GRID_STRIDE(at, outer * n * inner) {
        u64 i = at % inner, o = at / (inner * n);
        u64 l = index[at];
        if (l < len) atomicAdd(dst + (o * len + l) * inner + i, src[at]);
    }
}

#define MOVEMENT_ENTRIES(T, S)                                                                \
    extern "C" __global__ void permute_fwd_##S(const T* x, T* out, u64 n, Broadcast p) {      \
        permute_fwd(x, out, n, p);                                                            \
    }                                                                                         \
    extern "C" __global__ void narrow_fwd_##S(const T* x, T* out, u64 outer, u64 len,         \
                                              u64 inner, u64 start, u64 out_len) {            \
        narrow_fwd(x, out, outer, len, inner, start, out_len);                                \
    }                                                                                         \
    extern "C" __global__ void narrow_bwd_##S(const T* g, T* dx, u64 outer, u64 len,          \
                                              u64 inner, u64 start, u64 out_len) {            \
        narrow_bwd(g, dx, outer, len, inner, start, out_len);                                 \
    }                                                                                         \
    extern "C" __global__ void index_select_fwd_##S(const T* x, const u64* idx, T* out,       \
                                                    u64 outer, u64 len, u64 inner, u64 n) {   \
        index_select_fwd(x, idx, out, outer, len, inner, n);                                  \
    }                                                                                         \
    extern "C" __global__ void index_select_bwd_##S(const T* g, const u64* idx, T* dx,        \
                                                    u64 outer, u64 len, u64 inner, u64 n) {   \
        index_select_bwd(g, idx, dx, outer, len, inner, n);                                   \
    }                                                                                         \
    extern "C" __global__ void gather_fwd_##S(const T* x, const u64* index, T* out,           \
                                              u64 outer, u64 len, u64 inner, u64 n) {         \
        gather_fwd(x, index, out, outer, len, inner, n);                                      \
    }                                                                                         \
    extern "C" __global__ void gather_bwd_##S(const T* src, const u64* index, T* dst,         \
                                              u64 outer, u64 len, u64 inner, u64 n) {         \
        gather_bwd(src, index, dst, outer, len, inner, n);                                    \
    }

MOVEMENT_ENTRIES(float, f32)
MOVEMENT_ENTRIES(double, f64)
