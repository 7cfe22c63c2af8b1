//! Saving and restoring the position of the engine's [`Rng`] (SplitMix64), which has no state
//! accessor: the state is recovered from the generator's next output.
//!
//! SplitMix64 advances `s ← s + γ` and outputs `mix(s)`, and `mix` is a bijection of 64-bit
//! words (two xor-shifts and two multiplications by odd constants, each invertible). So for a
//! generator at state s, `next = mix(s + γ)` gives `s = mix⁻¹(next) − γ`, and `Rng::new(s)` is
//! a generator at exactly that position. The draw is taken from a clone, so the generator
//! itself does not move.

use anglegrad_engine::Rng;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const MUL1: u64 = 0xBF58_476D_1CE4_E5B9;
const MUL2: u64 = 0x94D0_49BB_1331_11EB;

/// The inverse of an odd number modulo 2⁶⁴ by Newton's iteration `x ← x(2 − a·x)`, which
/// doubles the number of correct low bits each time (odd a is its own inverse mod 8).
const fn inverse_mod_2_64(a: u64) -> u64 {
    let mut x = a;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

const INV_MUL1: u64 = inverse_mod_2_64(MUL1);
const INV_MUL2: u64 = inverse_mod_2_64(MUL2);

/// Inverts `y = x ^ (x >> shift)`: the top `shift` bits of y are x's; each pass recovers
/// `shift` more.
fn unxorshift(y: u64, shift: u32) -> u64 {
    let mut x = y;
    for _ in 0..64 / shift {
        x = y ^ (x >> shift);
    }
    x
}

/// The inverse of SplitMix64's output function.
fn unmix(z: u64) -> u64 {
    let z = unxorshift(z, 31).wrapping_mul(INV_MUL2);
    let z = unxorshift(z, 27).wrapping_mul(INV_MUL1);
    unxorshift(z, 30)
}

/// The state of `rng`, such that `rng_from_state(rng_state(&rng))` continues its stream.
pub fn rng_state(rng: &Rng) -> u64 {
    state_before(rng.clone().next_u64())
}

/// The state a SplitMix64 generator had before it produced `next`: works for any
/// implementation of the same generator (the data sets' `Rng` too: pass it the next output of
/// a clone, rebuild it with its `Rng::new(state)`).
pub fn state_before(next: u64) -> u64 {
    unmix(next).wrapping_sub(GAMMA)
}

/// A generator at the saved position.
pub fn rng_from_state(state: u64) -> Rng {
    Rng::new(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverses_are_inverses() {
        assert_eq!(MUL1.wrapping_mul(INV_MUL1), 1);
        assert_eq!(MUL2.wrapping_mul(INV_MUL2), 1);
    }

    #[test]
    fn a_restored_generator_continues_the_stream() {
        for seed in [0u64, 1, 42, u64::MAX, 0x0123_4567_89AB_CDEF] {
            let mut rng = Rng::new(seed);
            assert_eq!(rng_state(&rng), seed);
            for _ in 0..17 {
                rng.next_u64();
            }
            let mut restored = rng_from_state(rng_state(&rng));
            for _ in 0..100 {
                assert_eq!(restored.next_u64(), rng.next_u64());
            }
        }
    }
}
