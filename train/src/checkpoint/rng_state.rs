//! Saving and restoring the position of the project's [`Rng`] (SplitMix64): its whole state is
//! one 64-bit word, stored in the checkpoint's metadata; `Rng::new(state)` continues the
//! stream exactly where it was.

use anglegrad_engine::Rng;

/// The state of `rng`, such that `rng_from_state(rng_state(&rng))` continues its stream.
pub fn rng_state(rng: &Rng) -> u64 {
    rng.state()
}

/// A generator at the saved position.
pub fn rng_from_state(state: u64) -> Rng {
    Rng::new(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_generator_continues_the_stream() {
        let mut rng = Rng::new(42);
        for _ in 0..5 {
            rng.next_u64();
        }
        let mut restored = rng_from_state(rng_state(&rng));
        let ahead: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        let again: Vec<u64> = (0..4).map(|_| restored.next_u64()).collect();
        assert_eq!(ahead, again);
    }
}
