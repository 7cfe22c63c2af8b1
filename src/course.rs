//! # The anglegrad course
//!
//! A short course inside the code: from the chain rule on a scalar tape to the evaluation of a
//! face-recognition model. Each chapter is a markdown file of `docs/` (readable on its own, on
//! GitHub or here, in 10–15 minutes) and a sub-module of this one, so that
//! `cargo test --doc -p anglegrad` compiles and runs every Rust example of the course against the
//! real API: a chapter cannot drift from the code without a test failing.
//!
//! | chapter | what it teaches |
//! |---|---|
//! | [`ch01_chain_rule`] | derivatives, the chain rule, a scalar tape in 30 lines, the same on anglegrad's `Tape` |
//! | [`ch02_tensors_and_the_tape`] | `Tensor`, shapes, `watch` / `record` / `backward`, `Grads`, `Tape::dump`, writing an op |
//! | [`ch03_broadcasting`] | broadcasting rules and strides; why a broadcast input's gradient is a sum, taken once in the engine |
//!
//! Each chapter links to the source files it explains (relative links from `docs/`);
//! `tests/course_links.rs` checks that every link still points at a file.

#[doc = include_str!("../docs/01-chain-rule.md")]
pub mod ch01_chain_rule {}

#[doc = include_str!("../docs/02-tensors-and-the-tape.md")]
pub mod ch02_tensors_and_the_tape {}

#[doc = include_str!("../docs/03-broadcasting.md")]
pub mod ch03_broadcasting {}
