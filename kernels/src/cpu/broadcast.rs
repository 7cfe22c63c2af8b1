//! Numpy broadcasting as index arithmetic.
//!
//! Two shapes broadcast when, aligned at their last axis, each pair of sizes is equal or one of
//! them is 1; missing leading axes count as 1. An input is read through *broadcast strides*:
//! its row-major strides with 0 wherever it has size 1 (or lacks the axis), so the same element
//! is read again along that axis.

/// Row-major (C order) strides of a dense buffer with these dims, in elements.
pub fn contiguous_strides(dims: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; dims.len()];
    let mut acc = 1;
    for (s, d) in strides.iter_mut().zip(dims).rev() {
        *s = acc;
        acc *= d;
    }
    strides
}

/// The broadcast shape of `a` and `b`, or `None` when they do not broadcast.
pub fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Strides to read an input of dims `input` as if it had dims `out` (which it broadcasts to):
/// 0 on broadcast axes. The caller guarantees `input` broadcasts to `out`.
pub fn broadcast_strides(input: &[usize], out: &[usize]) -> Vec<usize> {
    let own = contiguous_strides(input);
    let offset = out.len() - input.len();
    (0..out.len())
        .map(|i| {
            if i < offset || input[i - offset] == 1 {
                0
            } else {
                own[i - offset]
            }
        })
        .collect()
}

/// Walks the output positions in row-major order and yields, for each, the offsets into up to
/// three inputs read through their broadcast strides. The reference way to broadcast.
pub struct BroadcastWalk<'a> {
    dims: &'a [usize],
    strides: [&'a [usize]; 3],
    index: Vec<usize>,
    offsets: [usize; 3],
    remaining: usize,
}

impl<'a> BroadcastWalk<'a> {
    pub fn new(dims: &'a [usize], strides: [&'a [usize]; 3]) -> Self {
        BroadcastWalk {
            dims,
            strides,
            index: vec![0; dims.len()],
            offsets: [0; 3],
            remaining: dims.iter().product(),
        }
    }
}

impl Iterator for BroadcastWalk<'_> {
    type Item = [usize; 3];
    fn next(&mut self) -> Option<[usize; 3]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let current = self.offsets;
        // Advance the multi-index like an odometer, updating the offsets incrementally.
        for axis in (0..self.dims.len()).rev() {
            self.index[axis] += 1;
            for (off, st) in self.offsets.iter_mut().zip(self.strides.iter()) {
                if !st.is_empty() {
                    *off += st[axis];
                }
            }
            if self.index[axis] < self.dims[axis] {
                break;
            }
            for (off, st) in self.offsets.iter_mut().zip(self.strides.iter()) {
                if !st.is_empty() {
                    *off -= st[axis] * self.dims[axis];
                }
            }
            self.index[axis] = 0;
        }
        Some(current)
    }
}

/// Copies `src` (dims `src_dims`) broadcast to `out_dims` into `out`.
pub fn broadcast_copy<T: Copy>(src: &[T], src_dims: &[usize], out_dims: &[usize], out: &mut [T]) {
    let st = broadcast_strides(src_dims, out_dims);
    for (o, [i, _, _]) in out
        .iter_mut()
        .zip(BroadcastWalk::new(out_dims, [&st, &[], &[]]))
    {
        *o = src[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_dims(&[2, 3], &[3]), Some(vec![2, 3]));
        assert_eq!(broadcast_dims(&[2, 1], &[1, 4]), Some(vec![2, 4]));
        assert_eq!(broadcast_dims(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_dims(&[2, 3], &[2]), None);
    }

    #[test]
    fn walk_reads_broadcast_inputs() {
        // a [2,1] broadcast with b [3] -> out [2,3]
        let sa = broadcast_strides(&[2, 1], &[2, 3]);
        let sb = broadcast_strides(&[3], &[2, 3]);
        let offs: Vec<_> = BroadcastWalk::new(&[2, 3], [&sa, &sb, &[]])
            .map(|[a, b, _]| (a, b))
            .collect();
        assert_eq!(offs, vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
    }
}
