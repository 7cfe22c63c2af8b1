//! The tape: a list of the ops applied to watched tensors, in execution order.
//!
//! Reverse-mode autodiff in three steps:
//! 1. `tape.watch(&w)` returns a handle of `w` that the tape follows.
//! 2. Every op whose inputs include a followed tensor appends a *node* to the tape: the ids and
//!    shapes of its inputs, the id of its output and a [`BackwardRule`] (defined next to the
//!    op's forward in the ops crate) holding whatever values the rule needs.
//! 3. `tape.backward(&loss)` walks the nodes from last to first. Because nodes were appended
//!    in execution order, the reverse order visits every node after all the nodes that used its
//!    output: it is a topological order, with no graph search needed. See [`crate::backward`].
//!
//! Nothing is stored on tensors: gradients come back in a [`Grads`] map. Work done on tensors
//! no tape follows records nothing (inference costs no memory for saved values).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use smallvec::SmallVec;

use crate::tensor::TensorId;
use crate::{DType, Grads, Result, Shape, Tensor};

/// How an op sends gradients back to its inputs. Implemented by a small struct next to each
/// op's forward function (in the ops crate), holding the values it saved from the forward.
pub trait BackwardRule: Send + Sync + 'static {
    /// The op's name, for `Tape::dump` and error messages.
    fn name(&self) -> &'static str;

    /// Given ∂L/∂output, returns ∂L/∂input for each input (in the order the op listed them in
    /// [`Tensor::record`]). `needs[i]` says whether input i wants a gradient; return `None` for
    /// those that do not (and skip the work). A returned gradient may have the *broadcast*
    /// shape of the output: the engine sums it down to the input's shape.
    ///
    /// The tensors handed in and out are not tracked: the backward pass itself records nothing.
    fn backward(&self, grad_output: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>>;

    /// The tensors this rule keeps alive until backward (for `Tape::dump`'s memory column).
    fn saved_tensors(&self) -> Vec<&Tensor> {
        Vec::new()
    }
}

/// One input of a recorded op.
pub(crate) struct NodeInput {
    pub id: TensorId,
    pub shape: Shape,
    pub dtype: DType,
    /// Whether a gradient should flow to it (it is followed by the tape).
    pub tracked: bool,
}

/// One recorded op.
pub(crate) struct Node {
    pub rule: Box<dyn BackwardRule>,
    pub inputs: SmallVec<[NodeInput; 3]>,
    pub output: TensorId,
    pub output_shape: Shape,
}

/// A tensor the user asked gradients for.
pub(crate) struct Watched {
    pub id: TensorId,
    pub shape: Shape,
    pub dtype: DType,
}

#[derive(Default)]
pub(crate) struct TapeState {
    pub nodes: Vec<Node>,
    pub watched: Vec<Watched>,
    pub finished: bool,
}

struct TapeInner {
    id: u64,
    state: Mutex<TapeState>,
}

/// Records ops on watched tensors; `backward` turns the record into gradients.
///
/// `Tape` is a cheap handle (clone it freely); tensors computed from watched ones carry it, so
/// ops know where to record. Several tapes can be alive at once and never see each other's
/// ops. After `backward` the tape is finished: its nodes (and their saved values) are freed and
/// further ops on its tensors record nothing.
#[derive(Clone)]
pub struct Tape {
    inner: Arc<TapeInner>,
}

impl Default for Tape {
    fn default() -> Self {
        Tape::new()
    }
}

impl Tape {
    pub fn new() -> Tape {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Tape {
            inner: Arc::new(TapeInner {
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                state: Mutex::new(TapeState::default()),
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, TapeState> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns a handle of `t` (same id, same values) that this tape follows, and registers `t`
    /// as a tensor to return a gradient for.
    pub fn watch(&self, t: &Tensor) -> Tensor {
        let mut state = self.state();
        if !state.watched.iter().any(|w| w.id == t.id()) {
            state.watched.push(Watched {
                id: t.id(),
                shape: t.shape().clone(),
                dtype: t.dtype(),
            });
        }
        t.attached_to(self)
    }

    /// Number of recorded ops.
    pub fn len(&self) -> usize {
        self.state().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once `backward` ran on this tape.
    pub fn is_finished(&self) -> bool {
        self.state().finished
    }

    /// True when both handles name the same tape.
    pub fn same_as(&self, other: &Tape) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The names of the recorded ops, in order.
    pub fn op_names(&self) -> Vec<&'static str> {
        self.state().nodes.iter().map(|n| n.rule.name()).collect()
    }

    pub(crate) fn push_node(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        rule: Box<dyn BackwardRule>,
    ) {
        let inputs = inputs
            .iter()
            .map(|t| NodeInput {
                id: t.id(),
                shape: t.shape().clone(),
                dtype: t.dtype(),
                tracked: t.tape().is_some_and(|tt| tt.same_as(self)),
            })
            .collect();
        self.state().nodes.push(Node {
            rule,
            inputs,
            output: output.id(),
            output_shape: output.shape().clone(),
        });
    }

    /// Computes the gradient of a one-element `loss` with respect to every watched tensor.
    /// Consumes the tape (it is finished afterwards). See [`crate::backward`] for the walk and
    /// for what a watched tensor that does not reach the loss gets (zeros).
    pub fn backward(self, loss: &Tensor) -> Result<Grads> {
        crate::backward::backward(&self, loss, None)
    }

    /// Like [`Tape::backward`] for an output of any shape, starting from the given gradient
    /// `seed` = ∂L/∂output (same shape and dtype as `output`).
    pub fn backward_with_seed(self, output: &Tensor, seed: &Tensor) -> Result<Grads> {
        crate::backward::backward(&self, output, Some(seed))
    }

    /// A human-readable listing of the recorded ops: one line per node with its op, input and
    /// output shapes and the bytes its saved tensors hold, then the totals.
    pub fn dump(&self) -> String {
        let state = self.state();
        let mut out = String::new();
        let mut total = 0usize;
        let _ = writeln!(
            out,
            "tape {}: {} ops, {} watched{}",
            self.inner.id,
            state.nodes.len(),
            state.watched.len(),
            if state.finished { " (finished)" } else { "" }
        );
        for (i, node) in state.nodes.iter().enumerate() {
            let saved: usize = node
                .rule
                .saved_tensors()
                .iter()
                .map(|t| t.size_in_bytes())
                .sum();
            total += saved;
            let shapes: Vec<String> = node.inputs.iter().map(|i| i.shape.to_string()).collect();
            let _ = writeln!(
                out,
                "  {i:>4}  {:<18} {} -> {}   saved {}",
                node.rule.name(),
                shapes.join(", "),
                node.output_shape,
                human_bytes(saved)
            );
        }
        let _ = writeln!(out, "  total saved: {}", human_bytes(total));
        out
    }
}

fn human_bytes(b: usize) -> String {
    match b {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
