//! Device buffers and the caching allocator behind them.
//!
//! Training allocates the same shapes every step; `cuMemAlloc`/`cuMemFree` cost microseconds
//! and synchronise, so freed blocks are kept and handed out again (the idea of PyTorch's
//! caching allocator). Sizes are rounded up to a *size class*, and a request takes a free block
//! of exactly its class:
//! - up to 1 MiB: multiples of 512 bytes;
//! - above: 8 classes per power of two (steps of 1/8 of the next power of two, so a block is
//!   less than a quarter larger than asked).
//!
//! Blocks are used on the device's single stream, whose order makes reuse safe: a kernel that
//! reads a freed block was queued before any kernel that writes its next owner's data. When an
//! allocation fails with out-of-memory, the cached blocks are released and it is retried once.
//! [`MemoryStats`] reports bytes in use, bytes held (in use + cached) and the peaks of both.
//!
//! On the CPU emulation of the kernels ([`super::emulator`]) a block is host memory (16-byte
//! aligned) and addresses are host addresses; everything else is the same.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, DeviceRepr, ValidAsZeroBits};

use super::error::{driver_error_name, CudaError, Result};

/// The element types device buffers hold: plain numbers, valid for any bit pattern.
pub trait DeviceElem:
    DeviceRepr + ValidAsZeroBits + Copy + Default + Send + Sync + 'static
{
}
impl DeviceElem for f32 {}
impl DeviceElem for f64 {}
impl DeviceElem for usize {}
impl DeviceElem for u32 {}

/// The size class of a request of `bytes` bytes.
pub fn size_class(bytes: usize) -> usize {
    const SMALL: usize = 512;
    if bytes <= 1 << 20 {
        return bytes.max(1).div_ceil(SMALL) * SMALL;
    }
    let step = bytes.next_power_of_two() / 8;
    bytes.div_ceil(step) * step
}

/// Memory counters of one device, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Held by live buffers (size classes, not requested sizes).
    pub in_use: usize,
    pub peak_in_use: usize,
    /// Allocated from the driver: in use + cached.
    pub reserved: usize,
    pub peak_reserved: usize,
    /// Blocks taken from the driver, and requests served from the cache.
    pub driver_allocs: usize,
    pub reuses: usize,
}

/// A block of memory: on the GPU, or on the host for the emulator.
pub(crate) enum Block {
    Device(CudaSlice<u8>),
    /// 16-byte units, so that the kernels' vector loads are aligned.
    Host(Box<[u128]>),
}

impl Block {
    pub(crate) fn len(&self) -> usize {
        match self {
            Block::Device(s) => s.len(),
            Block::Host(h) => h.len() * 16,
        }
    }
}

struct Pool {
    free: BTreeMap<usize, Vec<Block>>,
    stats: MemoryStats,
}

/// The caching allocator of one device (one per [`super::CudaDevice`]).
pub struct CachingAllocator {
    /// The device's stream, or `None` on the emulator (host memory).
    stream: Option<Arc<CudaStream>>,
    pool: Mutex<Pool>,
}

impl CachingAllocator {
    pub(crate) fn new(stream: Option<Arc<CudaStream>>) -> Self {
        CachingAllocator {
            stream,
            pool: Mutex::new(Pool {
                free: BTreeMap::new(),
                stats: MemoryStats::default(),
            }),
        }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        // A panic while holding the lock leaves the counters, not memory, inconsistent.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A block of at least `bytes` bytes (contents: whatever its previous owner left).
    fn take(&self, bytes: usize) -> Result<Block> {
        let class = size_class(bytes);
        {
            let mut pool = self.pool();
            if let Some(block) = pool.free.get_mut(&class).and_then(|v| v.pop()) {
                pool.stats.reuses += 1;
                pool.stats.in_use += class;
                pool.stats.peak_in_use = pool.stats.peak_in_use.max(pool.stats.in_use);
                return Ok(block);
            }
        }
        let fresh = match &self.stream {
            None => Block::Host(vec![0u128; class / 16].into_boxed_slice()),
            // SAFETY: u8 is valid for any contents; the buffer types only expose plain numbers.
            Some(stream) => Block::Device(match unsafe { stream.alloc::<u8>(class) } {
                Ok(b) => b,
                Err(e) if driver_error_name(&e) == "CUDA_ERROR_OUT_OF_MEMORY" => {
                    self.empty_cache();
                    // SAFETY: as above.
                    unsafe { stream.alloc::<u8>(class) }.map_err(|e| CudaError::Driver {
                        call: "cuMemAlloc (after emptying the cache)",
                        name: driver_error_name(&e),
                    })?
                }
                Err(e) => {
                    return Err(CudaError::Driver {
                        call: "cuMemAlloc",
                        name: driver_error_name(&e),
                    })
                }
            }),
        };
        let mut pool = self.pool();
        let s = &mut pool.stats;
        s.driver_allocs += 1;
        s.in_use += class;
        s.reserved += class;
        s.peak_in_use = s.peak_in_use.max(s.in_use);
        s.peak_reserved = s.peak_reserved.max(s.reserved);
        Ok(fresh)
    }

    fn give_back(&self, block: Block) {
        let mut pool = self.pool();
        pool.stats.in_use -= block.len();
        pool.free.entry(block.len()).or_default().push(block);
    }

    /// Returns every cached (free) block to the driver.
    pub fn empty_cache(&self) {
        let freed: Vec<Block> = {
            let mut pool = self.pool();
            let blocks: Vec<_> = std::mem::take(&mut pool.free)
                .into_values()
                .flatten()
                .collect();
            pool.stats.reserved -= blocks.iter().map(|b| b.len()).sum::<usize>();
            blocks
        };
        drop(freed); // cuMemFree outside the lock
    }

    pub fn stats(&self) -> MemoryStats {
        self.pool().stats
    }

    /// A buffer of `len` elements, contents unspecified.
    pub(crate) fn buffer<T: DeviceElem>(self: &Arc<Self>, len: usize) -> Result<DeviceBuffer<T>> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or_else(|| CudaError::invalid("alloc", format!("{len} elements overflow")))?;
        Ok(DeviceBuffer {
            block: Some(self.take(bytes)?),
            len,
            alloc: self.clone(),
            _elem: PhantomData,
        })
    }
}

/// `len` elements of `T` in device memory, in a block of the caching allocator (given back to
/// it on drop). Kernels read and write buffers only through the launchers of this module.
pub struct DeviceBuffer<T: DeviceElem> {
    block: Option<Block>,
    len: usize,
    alloc: Arc<CachingAllocator>,
    _elem: PhantomData<T>,
}

impl<T: DeviceElem> DeviceBuffer<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the underlying block (its size class).
    pub fn capacity_bytes(&self) -> usize {
        self.block().len()
    }

    pub(crate) fn block(&self) -> &Block {
        self.block.as_ref().expect("a live buffer has its block")
    }

    pub(crate) fn block_mut(&mut self) -> &mut Block {
        self.block.as_mut().expect("a live buffer has its block")
    }

    /// The address of element 0 as the kernels see it (a kernel argument).
    pub(crate) fn ptr(&self) -> u64 {
        match (self.block(), &self.alloc.stream) {
            (Block::Device(s), Some(stream)) => {
                // Event tracking is off (one stream), so the returned guard records nothing.
                let (p, _guard) = s.device_ptr(stream);
                p
            }
            (Block::Host(h), _) => h.as_ptr() as u64,
            (Block::Device(_), None) => unreachable!("device blocks come from a stream"),
        }
    }
}

impl<T: DeviceElem> Drop for DeviceBuffer<T> {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            self.alloc.give_back(block);
        }
    }
}

impl<T: DeviceElem> std::fmt::Debug for DeviceBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceBuffer<{}>[{}]",
            std::any::type_name::<T>(),
            self.len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes() {
        assert_eq!(size_class(0), 512);
        assert_eq!(size_class(1), 512);
        assert_eq!(size_class(513), 1024);
        assert_eq!(size_class(1 << 20), 1 << 20);
        // 1 MiB + 1: step 2 MiB / 8 = 256 KiB.
        assert_eq!(size_class((1 << 20) + 1), (1 << 20) + (1 << 18));
        for bytes in [3_000_000usize, 123_456_789, 1 << 30] {
            let c = size_class(bytes);
            assert!(c >= bytes && (c - bytes) * 4 < bytes, "{bytes} -> {c}");
            assert_eq!(size_class(c), c, "a class is its own class");
        }
    }
}
