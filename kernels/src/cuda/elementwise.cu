// elementwise.cu: unary maps, broadcasting binary maps, comparisons and where.
//
// Shape legend (the CPU reference is kernels/src/cpu/elementwise.rs):
//   unary:    x, y, g, dx         [n]
//   binary:   a, b read through `Broadcast` strides; out, g, ga, gb have the output's n elements
//   compare:  out = [a op b] in {0, 1}, broadcast like binary
//   where:    out = cond != 0 ? a : b, all three broadcast; ga, gb in the output's shape
// Binary backward writes gradients in the output's (broadcast) shape: summing them down to the
// input shapes is the engine's job, as on the CPU.
//
// The op codes are the order of the Rust enums UnaryOp, BinaryOp and CompareOp (the launcher
// passes `op as i32` through one match, see launch/elementwise.rs). Parameters (p of powf,
// mul/add of affine, lo/hi of clamp) arrive as doubles and are rounded to T once, as
// T::from_f64 does on the CPU.

enum UnaryCode {
    U_NEG, U_EXP, U_LOG, U_SQRT, U_ABS, U_RELU, U_SIGMOID, U_TANH, U_SIN, U_COS, U_ACOS,
    U_POWF, U_AFFINE, U_CLAMP
};
enum BinaryCode { B_ADD, B_SUB, B_MUL, B_DIV, B_MAXIMUM, B_MINIMUM, B_POW };
enum CompareCode { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

template <typename T> __device__ __forceinline__ T clamp_to(T x, T lo, T hi) {
    return x < lo ? lo : (x > hi ? hi : x);  // a NaN passes through, as on the CPU
}

// y = f(x)
template <typename T> __device__ T unary_apply(int op, T x, T p0, T p1) {
    switch (op) {
    case U_NEG: return -x;
    case U_EXP: return ag_exp(x);
    case U_LOG: return ag_log(x);
    case U_SQRT: return ag_sqrt(x);
    case U_ABS: return ag_abs(x);
    case U_RELU: return x > T(0) ? x : T(0);
    case U_SIGMOID:  // 1/(1+e^-x), or e^x/(1+e^x) for x < 0 so that e^-x never overflows
        if (x >= T(0)) return T(1) / (T(1) + ag_exp(-x));
        else { T e = ag_exp(x); return e / (T(1) + e); }
    case U_TANH: return ag_tanh(x);
    case U_SIN: return ag_sin(x);
    case U_COS: return ag_cos(x);
    case U_ACOS: return ag_acos(clamp_to(x, T(-1), T(1)));  // rounding may give 1.0000001
    case U_POWF: return ag_pow(x, p0);
    case U_AFFINE: return p0 * x + p1;
    case U_CLAMP: return clamp_to(x, p0, p1);
    }
    return Lim<T>::nan();
}

// f'(x), given x and y = f(x): exp' = y, sigmoid' = y(1-y), tanh' = 1-y^2, sqrt' = 1/(2y).
template <typename T> __device__ T unary_derivative(int op, T x, T y, T p0, T p1) {
    switch (op) {
    case U_NEG: return T(-1);
    case U_EXP: return y;
    case U_LOG: return T(1) / x;
    case U_SQRT: return T(1) / (T(2) * y);
    case U_ABS: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));  // sign, 0 at 0
    case U_RELU: return x > T(0) ? T(1) : T(0);                     // 0 at the kink
    case U_SIGMOID: return y * (T(1) - y);
    case U_TANH: return T(1) - y * y;
    case U_SIN: return ag_cos(x);
    case U_COS: return -ag_sin(x);
    case U_ACOS: {  // -1/sqrt(1-x^2), guarded at the ends: 1-x^2 floored at machine epsilon
        T s = T(1) - x * x;
        return -T(1) / ag_sqrt(s > Lim<T>::eps() ? s : Lim<T>::eps());
    }
    case U_POWF: return p0 * ag_pow(x, p1);  // p·x^(p-1); the launcher passes p1 = p - 1
    case U_AFFINE: return p0;
    case U_CLAMP: return (x >= p0 && x <= p1) ? T(1) : T(0);  // bounds included
    }
    return Lim<T>::nan();
}

template <typename T> __device__ T binary_apply(int op, T a, T b) {
    switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_MAXIMUM: return max_nan(a, b);
    case B_MINIMUM: return min_nan(a, b);
    case B_POW: return ag_pow(a, b);
    }
    return Lim<T>::nan();
}

// (dz/da, dz/db) at (a, b), z = f(a, b). Ties of max/min send the gradient to a.
template <typename T> __device__ void binary_partials(int op, T a, T b, T z, T& da, T& db) {
    switch (op) {
    case B_ADD: da = T(1); db = T(1); return;
    case B_SUB: da = T(1); db = T(-1); return;
    case B_MUL: da = b; db = a; return;
    case B_DIV: da = T(1) / b; db = -a / (b * b); return;
    case B_MAXIMUM: da = a >= b ? T(1) : T(0); db = a >= b ? T(0) : T(1); return;
    case B_MINIMUM: da = a <= b ? T(1) : T(0); db = a <= b ? T(0) : T(1); return;
    case B_POW:  // d/db = a^b ln a, taken as 0 where a <= 0
        da = b * ag_pow(a, b - T(1));
        db = a > T(0) ? z * ag_log(a) : T(0);
        return;
    }
    da = db = Lim<T>::nan();
}

template <typename T>
__device__ void unary_fwd(const T* x, T* y, u64 n, int op, double p0, double p1) {
    T q0 = (T)p0, q1 = (T)p1;
    GRID_STRIDE(i, n) y[i] = unary_apply(op, x[i], q0, q1);
}

template <typename T>
__device__ void unary_bwd(const T* x, const T* y, const T* g, T* dx, u64 n, int op, double p0,
                          double p1) {
    T q0 = (T)p0, q1 = (T)p1;
    GRID_STRIDE(i, n) dx[i] = g[i] * unary_derivative(op, x[i], y[i], q0, q1);
}

template <typename T>
__device__ void binary_fwd(const T* a, const T* b, T* out, u64 n, int op, const Broadcast& bc) {
    GRID_STRIDE(i, n) {
        out[i] = binary_apply(op, a[bcast_offset(bc, 0, i)], b[bcast_offset(bc, 1, i)]);
    }
}

// ga / gb may be null (that gradient is not needed).
template <typename T>
__device__ void binary_bwd(const T* a, const T* b, const T* g, T* ga, T* gb, u64 n, int op,
                           const Broadcast& bc) {
    GRID_STRIDE(i, n) {
        T x = a[bcast_offset(bc, 0, i)], y = b[bcast_offset(bc, 1, i)];
        T da, db;
        binary_partials(op, x, y, binary_apply(op, x, y), da, db);
        if (ga) ga[i] = g[i] * da;
        if (gb) gb[i] = g[i] * db;
    }
}

template <typename T>
__device__ void compare_fwd(const T* a, const T* b, T* out, u64 n, int op, const Broadcast& bc) {
    GRID_STRIDE(i, n) {
        T x = a[bcast_offset(bc, 0, i)], y = b[bcast_offset(bc, 1, i)];
        bool r = false;
        switch (op) {
        case C_EQ: r = x == y; break;
        case C_NE: r = x != y; break;
        case C_LT: r = x < y; break;
        case C_LE: r = x <= y; break;
        case C_GT: r = x > y; break;
        case C_GE: r = x >= y; break;
        }
        out[i] = r ? T(1) : T(0);
    }
}

template <typename T>
__device__ void where_fwd(const T* cond, const T* a, const T* b, T* out, u64 n,
                          const Broadcast& bc) {
    GRID_STRIDE(i, n) {
        out[i] = cond[bcast_offset(bc, 0, i)] != T(0) ? a[bcast_offset(bc, 1, i)]
                                                      : b[bcast_offset(bc, 2, i)];
    }
}

template <typename T>
__device__ void where_bwd(const T* cond, const T* g, T* ga, T* gb, u64 n, const Broadcast& bc) {
    GRID_STRIDE(i, n) {
        bool take_a = cond[bcast_offset(bc, 0, i)] != T(0);
        ga[i] = take_a ? g[i] : T(0);
        gb[i] = take_a ? T(0) : g[i];
    }
}

#define ELEMENTWISE_ENTRIES(T, S)                                                             \
    extern "C" __global__ void unary_fwd_##S(const T* x, T* y, u64 n, int op, double p0,       \
                                             double p1) {                                     \
        unary_fwd(x, y, n, op, p0, p1);                                                       \
    }                                                                                         \
    extern "C" __global__ void unary_bwd_##S(const T* x, const T* y, const T* g, T* dx, u64 n, \
                                             int op, double p0, double p1) {                  \
        unary_bwd(x, y, g, dx, n, op, p0, p1);                                                \
    }                                                                                         \
    extern "C" __global__ void binary_fwd_##S(const T* a, const T* b, T* out, u64 n, int op,   \
                                              Broadcast bc) {                                 \
        binary_fwd(a, b, out, n, op, bc);                                                     \
    }                                                                                         \
    extern "C" __global__ void binary_bwd_##S(const T* a, const T* b, const T* g, T* ga,       \
                                              T* gb, u64 n, int op, Broadcast bc) {           \
        binary_bwd(a, b, g, ga, gb, n, op, bc);                                               \
    }                                                                                         \
    extern "C" __global__ void compare_fwd_##S(const T* a, const T* b, T* out, u64 n, int op,  \
                                               Broadcast bc) {                                \
        compare_fwd(a, b, out, n, op, bc);                                                    \
    }                                                                                         \
    extern "C" __global__ void where_fwd_##S(const T* cond, const T* a, const T* b, T* out,    \
                                             u64 n, Broadcast bc) {                           \
        where_fwd(cond, a, b, out, n, bc);                                                    \
    }                                                                                         \
    extern "C" __global__ void where_bwd_##S(const T* cond, const T* g, T* ga, T* gb, u64 n,   \
                                             Broadcast bc) {                                  \
        where_bwd(cond, g, ga, gb, n, bc);                                                    \
    }

ELEMENTWISE_ENTRIES(float, f32)
ELEMENTWISE_ENTRIES(double, f64)
