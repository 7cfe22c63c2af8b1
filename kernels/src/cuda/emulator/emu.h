// emu.h: the CUDA built-ins our kernels use, for running them on the CPU (tests only).
//
// The .cu sources are compiled unchanged as C++ with this header in front (by a host C++
// compiler instead of NVRTC; see kernels/src/cuda/emulator.rs). Each CUDA thread of a block
// is a fiber with its own stack (started with makecontext/setcontext, switched with
// _setjmp/_longjmp, which unlike swapcontext make no system call); one OS thread runs the
// block's fibers one after
// another until each reaches a barrier:
// - __syncthreads(): the block's fibers all wait until every live fiber has arrived;
// - a warp shuffle: the lane writes its value to the warp's slots, waits for the other live
//   lanes of its warp, reads its partner's slot, waits again (so no slot is overwritten early).
// Blocks run one after another. Shared memory is a static variable (one block at a time),
// atomics are plain read-modify-writes (one fiber at a time). A barrier that can never be
// released (a warp split between two barriers, a __syncthreads some threads skip) is reported
// as an error instead of hanging.
//
// What this checks: the index arithmetic, bounds, reductions, barriers and warp exchanges of
// the kernels, in one legal interleaving. What it cannot: timing, the GPU memory model, and
// the last bits of libdevice's math functions (the host's libm computes them here).

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <csetjmp>
#include <cstdlib>
#include <ucontext.h>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

struct uint3 { unsigned x, y, z; };
static uint3 threadIdx, blockIdx, blockDim, gridDim;

struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };

static inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
static inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }

template <typename T> static inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }

// ---- the fiber scheduler ----------------------------------------------------------------------

namespace ag_emu {

enum State { RUNNABLE, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

struct Fiber {
    ucontext_t ctx;  // the first entry
    jmp_buf resume;  // every later one
    State state;
    bool started;
};

static const size_t STACK_BYTES = 256 * 1024;
static std::vector<Fiber> fibers;
static std::vector<char*> stacks;
static jmp_buf scheduler;
static int current = 0;
static unsigned long long warp_slots[32][32];  // [warp][lane], up to 1024 threads
static void (*kernel_trampoline)(void**);
static void** kernel_args;
static bool reverse_warps = false;  // the order warps run in (alternates per launch)

static inline int linear_tid() {
    return (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
}

static void wait(State s) {
    fibers[current].state = s;
    if (_setjmp(fibers[current].resume) == 0) _longjmp(scheduler, 1);
}

static void fiber_main() {
    kernel_trampoline(kernel_args);
    fibers[current].state = DONE;
    _longjmp(scheduler, 1);  // never returns: its stack is reused by the next block
}

// Runs fiber t until it waits at a barrier or finishes.
static void resume(int t) {
    current = t;
    if (_setjmp(scheduler) == 0) {
        if (!fibers[t].started) {
            fibers[t].started = true;
            setcontext(&fibers[t].ctx);
        }
        _longjmp(fibers[t].resume, 1);
    }
}

static void set_thread(int t) {
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

// Runs one block; returns 0, or 1 with a message in err.
static int run_block(int threads, char* err, size_t err_len) {
    fibers.resize(threads);
    while ((int)stacks.size() < threads) stacks.push_back((char*)std::malloc(STACK_BYTES));
    for (int t = 0; t < threads; ++t) {
        getcontext(&fibers[t].ctx);
        fibers[t].ctx.uc_stack.ss_sp = stacks[t];
        fibers[t].ctx.uc_stack.ss_size = STACK_BYTES;
        fibers[t].ctx.uc_link = nullptr;
        makecontext(&fibers[t].ctx, fiber_main, 0);
        fibers[t].state = RUNNABLE;
        fibers[t].started = false;
    }
    const int warps = (threads + 31) / 32;
    for (;;) {
        // Each warp runs on its own, through its shuffles, until every live lane waits at
        // __syncthreads or has finished: one warp may run far ahead of the others, as on a
        // GPU, so a missing __syncthreads shows as a wrong result. Warps go in increasing
        // order on even launches and in decreasing order on odd ones.
        for (int i = 0; i < warps; ++i) {
            const int w = reverse_warps ? warps - 1 - i : i;
            const int lo = w * 32, hi = (w + 1) * 32 < threads ? (w + 1) * 32 : threads;
            for (;;) {
                for (int t = lo; t < hi; ++t) {
                    if (fibers[t].state != RUNNABLE) continue;
                    set_thread(t);
                    resume(t);
                }
                bool any_waiting = false, all_waiting = true;
                for (int t = lo; t < hi; ++t) {
                    if (fibers[t].state == DONE) continue;
                    if (fibers[t].state == AT_WARP_BARRIER) any_waiting = true;
                    else all_waiting = false;
                }
                if (!(any_waiting && all_waiting)) break;
                for (int t = lo; t < hi; ++t)
                    if (fibers[t].state == AT_WARP_BARRIER) fibers[t].state = RUNNABLE;
            }
        }
        bool all_done = true, all_at_block = true;
        for (int t = 0; t < threads; ++t) {
            if (fibers[t].state != DONE) all_done = false;
            if (fibers[t].state != DONE && fibers[t].state != AT_BLOCK_BARRIER) all_at_block = false;
        }
        if (all_done) return 0;
        if (all_at_block) {
            for (int t = 0; t < threads; ++t)
                if (fibers[t].state == AT_BLOCK_BARRIER) fibers[t].state = RUNNABLE;
            continue;
        }
        std::snprintf(err, err_len,
                      "deadlock in block (%u, %u, %u): threads wait at different barriers "
                      "(a warp split between a shuffle and __syncthreads, or a shuffle with "
                      "exited lanes)",
                      blockIdx.x, blockIdx.y, blockIdx.z);
        return 1;
    }
}

// Calls the kernel with its parameters read from the cuLaunchKernel-style array `args`.
template <typename... A, size_t... I>
static void call_with(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<A*>(args[I])...);
}
template <typename... A> static void invoke(void (*f)(A...), void** args) {
    call_with(f, args, std::index_sequence_for<A...>{});
}

}  // namespace ag_emu

static inline void __syncthreads() { ag_emu::wait(ag_emu::AT_BLOCK_BARRIER); }

template <typename T> static inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
    static_assert(sizeof(T) <= 8, "shuffles of at most 8 bytes");
    int t = ag_emu::linear_tid(), warp = t / 32, lane = t % 32;
    std::memcpy(&ag_emu::warp_slots[warp][lane], &v, sizeof(T));
    ag_emu::wait(ag_emu::AT_WARP_BARRIER);
    T out;
    std::memcpy(&out, &ag_emu::warp_slots[warp][lane ^ lane_mask], sizeof(T));
    ag_emu::wait(ag_emu::AT_WARP_BARRIER);
    return out;
}

// The launch entry point of every emulated module: runs `trampoline` (one kernel) over the
// grid. Returns 0, or 1 with a message in `err`.
extern "C" int ag_emu_run(void (*trampoline)(void**), void** args, unsigned gx, unsigned gy,
                          unsigned gz, unsigned bx, unsigned by, unsigned bz, char* err,
                          size_t err_len) {
    if (bx * by * bz > 1024 || bx * by * bz == 0) {
        std::snprintf(err, err_len, "block of %u threads (1 to 1024)", bx * by * bz);
        return 1;
    }
    static unsigned long long launches = 0;
    ag_emu::reverse_warps = (launches++ % 2) == 1;
    ag_emu::kernel_trampoline = trampoline;
    ag_emu::kernel_args = args;
    gridDim = uint3{gx, gy, gz};
    blockDim = uint3{bx, by, bz};
    for (unsigned z = 0; z < gz; ++z)
        for (unsigned y = 0; y < gy; ++y)
            for (unsigned x = 0; x < gx; ++x) {
                blockIdx = uint3{x, y, z};
                if (ag_emu::run_block((int)(bx * by * bz), err, err_len)) return 1;
            }
    return 0;
}

#define AG_EMU_ENTRY(name) \
    extern "C" void ag_emu__##name(void** args) { ag_emu::invoke(&name, args); }
