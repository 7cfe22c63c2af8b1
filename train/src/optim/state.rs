//! Optimiser state, keyed by parameter name so that it survives the parameters being replaced
//! at every step and can be written to (and read back from) a checkpoint.
//!
//! Per parameter: the number of updates it has had (`step`, which Adam's bias correction
//! needs) and named buffers with PyTorch's names: `momentum_buffer` (SGD), `exp_avg`,
//! `exp_avg_sq`, `max_exp_avg_sq` (Adam/AdamW). Buffers have the parameter's shape and dtype.

use std::collections::BTreeMap;

use anglegrad_engine::{Error, Result, Tensor};

/// The state of one parameter.
#[derive(Clone, Debug, Default)]
pub struct ParamState {
    /// How many updates this parameter has received.
    pub step: u64,
    /// Buffers by slot name (`momentum_buffer`, `exp_avg`, ...).
    pub buffers: BTreeMap<String, Tensor>,
}

impl ParamState {
    pub fn buffer(&self, slot: &str) -> Option<&Tensor> {
        self.buffers.get(slot)
    }
}

/// The state of every parameter an optimiser has updated, by parameter name.
#[derive(Clone, Debug, Default)]
pub struct OptimState {
    pub params: BTreeMap<String, ParamState>,
}

impl OptimState {
    pub fn get(&self, name: &str) -> Option<&ParamState> {
        self.params.get(name)
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Checks that every buffer is one of `allowed` and that every parameter that has been
    /// stepped has each of `required`: what an optimiser accepts from a checkpoint.
    pub fn check_slots(&self, op: &'static str, allowed: &[&str], required: &[&str]) -> Result<()> {
        for (name, state) in &self.params {
            if let Some(slot) = state
                .buffers
                .keys()
                .find(|s| !allowed.contains(&s.as_str()))
            {
                return Err(Error::invalid(
                    op,
                    format!("parameter {name}: unknown state buffer {slot:?} (expected one of {allowed:?})"),
                ));
            }
            if state.step > 0 {
                if let Some(slot) = required.iter().find(|s| !state.buffers.contains_key(**s)) {
                    return Err(Error::invalid(
                        op,
                        format!(
                            "parameter {name}: state buffer {slot:?} missing after {} steps",
                            state.step
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
