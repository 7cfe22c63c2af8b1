//! What the training loop (`trainer/run.rs`) calls to run on R processes: one value,
//! [`Distributed`], and one method per point of the loop where ranks must agree.
//!
//! | loop point | call | what happens with R > 1 |
//! |---|---|---|
//! | start | [`Distributed::connect`], [`Distributed::prepare`] | join the group; shard the margin head's W (or keep it replicated for the other losses); every rank takes rank 0's initial parameters |
//! | epoch | [`Distributed::batches`] | this rank's block of every global batch |
//! | forward | [`Distributed::loss`] | the sharded margin head, or the objective's loss on the local block |
//! | logging | [`Distributed::average_loss`] | the mean of the ranks' losses (every rank sees the same value, NaN included) |
//! | after backward | [`Distributed::reduce_gradients`], [`Distributed::clip_grad_norm`] | gradients averaged over ranks in buckets; clipping by the global norm |
//! | checkpoint | [`Distributed::gather_checkpoint`] | the head's blocks (and their optimiser buffers) gathered; rank 0 writes |
//! | resume | [`Distributed::shard_checkpoint`] | the saved whole head cut into this run's blocks (any rank count) |
//!
//! With one process every call is the identity (or the single-process function it replaces),
//! so the loop has a single path. Rank 0 alone evaluates, prints and writes files; its batch-norm
//! running statistics are the ones evaluated and saved (training itself uses batch statistics,
//! computed per rank over B/R samples; see [`super::grad_sync`]).
//!
//! Losses: the margin heads (normface, cosface, arcface, combined) run sharded, with optional
//! partial FC; every other loss runs plain data parallel on each rank's block with its head
//! replicated, except the centre loss, whose centre update is not an average of per-rank
//! updates and is refused.

use std::sync::Arc;

use anglegrad_engine::{Grads, Rng, Tape, Tensor};
use anglegrad_losses::registry::configure;

use super::{
    average_gradients, broadcast_params, checkpoint, grad_sync, BatchShard, Collective,
    ShardedMarginHead, SingleProcess, DEFAULT_BUCKET_BYTES,
};
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::optim::{clip_grad_norm, Joined, NamedTensors, Params};
use crate::trainer::objective::Objective;
use crate::trainer::TrainConfig;

/// The name of the sharded parameter: the margin head's class matrix W.
pub const HEAD_WEIGHT: &str = "head.weight";

fn engine(e: anglegrad_engine::Error) -> Error {
    Error::Invalid(e.to_string())
}

/// A training run's process group and what each rank holds.
pub struct Distributed {
    comm: Arc<dyn Collective>,
    batch: BatchShard,
    /// The sharded margin head, when the loss is one.
    head: Option<ShardedMarginHead>,
    seed: u64,
    bucket_bytes: usize,
    /// A group kept alive because another one was started through it (MPI carrying NCCL's id);
    /// it is the one that can end every process after an error.
    bootstrap: Option<Arc<dyn Collective>>,
}

impl Distributed {
    /// One process (R = 1).
    pub fn single() -> Distributed {
        Distributed {
            comm: Arc::new(SingleProcess),
            batch: BatchShard { rank: 0, world: 1 },
            head: None,
            seed: 0,
            bucket_bytes: DEFAULT_BUCKET_BYTES,
            bootstrap: None,
        }
    }

    /// Over an existing group (the tests' loopback ranks, or one started elsewhere).
    pub fn with(comm: Arc<dyn Collective>) -> Result<Distributed> {
        Ok(Distributed {
            batch: BatchShard::new(comm.rank(), comm.world_size())?,
            comm,
            ..Distributed::single()
        })
    }

    /// The group `--distributed` names: `none` (or empty), `mpi` (feature `mpi`; start with
    /// `mpirun -np R`), `nccl` (feature `nccl`; the NCCL id travels over MPI when the `mpi`
    /// feature is on too, else through `ANGLEGRAD_NCCL_ID_FILE`).
    pub fn connect(backend: &str) -> Result<Distributed> {
        match backend {
            "" | "none" => Ok(Distributed::single()),
            "mpi" => Self::mpi(),
            "nccl" => Self::nccl(),
            other => Err(Error::Invalid(format!(
                "--distributed {other:?}: expected none, mpi or nccl"
            ))),
        }
    }

    #[cfg(feature = "mpi")]
    fn mpi() -> Result<Distributed> {
        Distributed::with(Arc::new(super::Mpi::init().map_err(engine)?))
    }

    #[cfg(not(feature = "mpi"))]
    fn mpi() -> Result<Distributed> {
        Err(Error::Invalid(
            "--distributed mpi: this build has no MPI (cargo build --features mpi)".into(),
        ))
    }

    #[cfg(all(feature = "nccl", feature = "mpi"))]
    fn nccl() -> Result<Distributed> {
        let bootstrap: Arc<dyn Collective> = Arc::new(super::Mpi::init().map_err(engine)?);
        let device = std::env::var("OMPI_COMM_WORLD_LOCAL_RANK")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let nccl = super::Nccl::init(bootstrap.as_ref(), device).map_err(engine)?;
        let mut d = Distributed::with(Arc::new(nccl))?;
        d.bootstrap = Some(bootstrap);
        Ok(d)
    }

    #[cfg(all(feature = "nccl", not(feature = "mpi")))]
    fn nccl() -> Result<Distributed> {
        Distributed::with(Arc::new(super::Nccl::from_env().map_err(engine)?))
    }

    #[cfg(not(feature = "nccl"))]
    fn nccl() -> Result<Distributed> {
        Err(Error::Invalid(
            "--distributed nccl: this build has no NCCL (cargo build --features nccl)".into(),
        ))
    }

    pub fn comm(&self) -> &Arc<dyn Collective> {
        &self.comm
    }

    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    pub fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    /// Rank 0: the one that prints, evaluates and writes checkpoints.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// After an error on this rank (R > 1): says so on stderr and ends the group, so that the
    /// other ranks do not wait forever in their next collective (MPI: `MPI_Abort`, which does
    /// not return; in-process ranks: their next operation fails).
    pub fn abort_on_error(&self, error: &Error) {
        if self.world_size() > 1 {
            eprintln!("rank {}: {error}; ending every rank", self.rank());
            self.bootstrap.as_ref().unwrap_or(&self.comm).abort(1);
        }
    }

    /// The position in the global batch of this rank's first sample, for a block of `local`
    /// samples (rank r's block starts at r·local).
    pub fn block_offset(&self, local: usize) -> usize {
        self.batch.rank * local
    }

    /// The sharded head, when the loss is a margin head and R > 1 (or partial FC is on).
    pub fn sharded_head(&self) -> Option<&ShardedMarginHead> {
        self.head.as_ref()
    }

    /// One line for the log: backend, ranks, what this rank holds.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "distributed: {}, {} ranks",
            self.comm.backend(),
            self.world_size()
        );
        if let Some(h) = &self.head {
            s += &format!(
                "; margin head sharded, rank {} holds classes [{}, {}) of {}",
                self.rank(),
                h.shard.start,
                h.shard.end,
                h.shard.classes
            );
            if h.sample_rate < 1.0 {
                s += &format!(", partial FC rate {}", h.sample_rate);
            }
        }
        s
    }

    /// The configuration rank r runs with: rank 0's as given; the others write their logs
    /// (config.json, metrics.jsonl) under `<out>/rank<r>/` and nothing else.
    pub fn rank_config(&self, cfg: &TrainConfig) -> TrainConfig {
        let mut c = cfg.clone();
        if !self.is_root() {
            c.out = cfg.out.join(format!("rank{}", self.rank()));
        }
        c
    }

    /// Once the model, the objective and the optimiser exist: checks that the loss and batch
    /// can be split, shards the margin head's W (`cfg.partial_fc` < 1: partial FC) and gives
    /// every rank rank 0's initial parameters.
    pub fn prepare(
        &mut self,
        cfg: &TrainConfig,
        model: &mut dyn Params,
        objective: &mut Objective,
    ) -> Result<()> {
        self.seed = cfg.seed;
        let sample_rate = cfg.partial_fc;
        if self.world_size() == 1 && sample_rate >= 1.0 {
            return Ok(());
        }
        if cfg.loss == "center" {
            return Err(Error::Invalid(
                "the centre loss cannot run distributed: its centre update is not an average of the ranks' updates".into(),
            ));
        }
        let k = objective.needs_pk().then_some(cfg.k);
        self.batch.local_batch(cfg.batch, k)?;
        let margin = if cfg.loss == "ddl" {
            None // ArcFace on two views plus DDL: data parallel with a replicated head.
        } else {
            configure(&cfg.loss, &cfg.loss_params)
                .and_then(|l| l.margin_head())
                .map_err(engine)?
        };
        match margin {
            Some(margin) => {
                let whole = objective.head.get(HEAD_WEIGHT).cloned().ok_or_else(|| {
                    Error::Invalid(format!("the {} objective has no {HEAD_WEIGHT}", cfg.loss))
                })?;
                // Every rank builds W from the same seed; rank 0's is broadcast anyway.
                let mut whole_set: NamedTensors = [(HEAD_WEIGHT, whole)].into_iter().collect();
                broadcast_params(&mut whole_set, self.comm.as_ref(), 0).map_err(engine)?;
                let whole = whole_set.get(HEAD_WEIGHT).expect("just pushed");
                let head = ShardedMarginHead::new(
                    &margin.fused(cfg.head_chunk),
                    whole.dims()[0],
                    self.comm.clone(),
                )
                .and_then(|h| h.with_sample_rate(sample_rate))
                .map_err(engine)?;
                objective
                    .head
                    .push(HEAD_WEIGHT, head.shard.slice_rows(whole).map_err(engine)?);
                self.head = Some(head);
            }
            None if sample_rate < 1.0 => {
                return Err(Error::Invalid(format!(
                    "partial FC (sample rate {sample_rate}) needs a margin-head loss (normface, cosface, arcface, combined), not {}",
                    cfg.loss
                )))
            }
            None => broadcast_params(&mut objective.head, self.comm.as_ref(), 0).map_err(engine)?,
        }
        broadcast_params(model, self.comm.as_ref(), 0).map_err(engine)
    }

    /// This rank's blocks of an epoch's global batches.
    pub fn batches(&self, global: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
        if self.world_size() == 1 {
            return global;
        }
        self.batch.epoch(global)
    }

    /// This rank's loss L_r on its block (embeddings [B/R, D], global labels).
    pub fn loss(
        &self,
        objective: &mut Objective,
        emb: &Tensor,
        labels: &[usize],
        tape: &Tape,
        student: Option<&Tensor>,
        step: u64,
    ) -> Result<Tensor> {
        match &self.head {
            Some(head) => {
                let w = objective.head.get(HEAD_WEIGHT).expect("sharded in prepare");
                let w = tape.watch(w);
                let mut rng = Rng::keyed(self.seed, 0x5046_4331, step, self.rank() as u64);
                head.loss(emb, &w, labels, &mut rng).map_err(engine)
            }
            None => objective.loss(emb, labels, tape, student).map_err(engine),
        }
    }

    /// The mean over ranks of a per-rank value (the loss for the log and the NaN check).
    pub fn average_loss(&self, value: f64) -> Result<f64> {
        if self.world_size() == 1 {
            return Ok(value);
        }
        let mut v = [value / self.world_size() as f64];
        use super::CollectiveExt;
        self.comm
            .all_reduce_slice(&mut v, super::ReduceOp::Sum)
            .map_err(engine)?;
        Ok(v[0])
    }

    /// After backward: every gradient becomes the gradient of the mean of the ranks' losses
    /// (backbone: all-reduce in buckets and ÷R; the sharded W block: ÷R).
    pub fn reduce_gradients(
        &self,
        grads: &mut Grads,
        model: &mut dyn Params,
        objective: &mut Objective,
    ) -> Result<()> {
        if self.world_size() == 1 {
            return Ok(());
        }
        let comm = self.comm.as_ref();
        if self.head.is_some() {
            average_gradients(grads, model, &mut objective.head, comm, self.bucket_bytes)
        } else {
            let mut all = Joined::new().with(model).with(&mut objective.head);
            average_gradients(
                grads,
                &mut all,
                &mut NamedTensors::new(),
                comm,
                self.bucket_bytes,
            )
        }
        .map(|_| ())
        .map_err(engine)
    }

    /// `clip_grad_norm_` by the global norm of all gradients (the sharded blocks' norms summed
    /// over ranks); returns the norm before clipping.
    pub fn clip_grad_norm(
        &self,
        grads: &mut Grads,
        model: &mut dyn Params,
        objective: &mut Objective,
        max_norm: f64,
    ) -> Result<f64> {
        if self.head.is_none() {
            // Replicated everywhere: identical gradients after averaging, the plain function.
            let mut all = Joined::new().with(model).with(&mut objective.head);
            return clip_grad_norm(grads, &mut all, max_norm).map_err(engine);
        }
        grad_sync::clip_grad_norm(
            grads,
            model,
            &mut objective.head,
            max_norm,
            self.comm.as_ref(),
        )
        .map_err(engine)
    }

    /// Before rank 0 writes a checkpoint (every rank calls it): the head's blocks and their
    /// optimiser buffers become the whole matrices.
    pub fn gather_checkpoint(&self, ck: &mut Checkpoint) -> Result<()> {
        match &self.head {
            Some(h) => checkpoint::gather_sharded(ck, &[HEAD_WEIGHT], &h.shard, self.comm.as_ref())
                .map_err(engine),
            None => Ok(()),
        }
    }

    /// After loading a checkpoint to resume: the whole head cut into this rank's block.
    pub fn shard_checkpoint(&self, ck: &mut Checkpoint) -> Result<()> {
        match &self.head {
            Some(h) => checkpoint::shard_checkpoint(ck, &[HEAD_WEIGHT], &h.shard).map_err(engine),
            None => Ok(()),
        }
    }
}
