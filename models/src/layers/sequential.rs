//! `Sequential`: modules applied one after the other, named "0", "1", … as in PyTorch's
//! `nn.Sequential`, so `layers.1.weight` means the weight of the second module.

use anglegrad_engine::{Result, Tape, Tensor};

use crate::module::{join, Mode, Module};

/// A chain of modules: y = m_k(… m_1(m_0(x))).
#[derive(Default)]
pub struct Sequential {
    modules: Vec<(String, Box<dyn Module + Send>)>,
}

impl Sequential {
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a module named by its position.
    pub fn push(mut self, module: impl Module + Send + 'static) -> Sequential {
        let name = self.modules.len().to_string();
        self.modules.push((name, Box::new(module)));
        self
    }

    /// Appends a module under a chosen name (PyTorch's `nn.Sequential(OrderedDict(...))`).
    pub fn push_named(
        mut self,
        name: impl Into<String>,
        module: impl Module + Send + 'static,
    ) -> Sequential {
        self.modules.push((name.into(), Box::new(module)));
        self
    }

    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let mut h = x.clone();
        for (_, m) in &mut self.modules {
            h = m.forward(&h, tape)?;
        }
        Ok(h)
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        for (name, m) in &mut self.modules {
            m.visit_parameters(&join(prefix, name), f);
        }
    }

    fn visit_buffers(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        for (name, m) in &mut self.modules {
            m.visit_buffers(&join(prefix, name), f);
        }
    }

    fn set_mode(&mut self, mode: Mode) {
        for (_, m) in &mut self.modules {
            m.set_mode(mode);
        }
    }
}
