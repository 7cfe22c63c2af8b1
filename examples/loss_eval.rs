//! Evaluates one loss of anglegrad on inputs from a safetensors file and writes the loss and
//! its gradients, to compare with your own implementation (LOSSES.md §16).
//!
//!     cargo run --release --example loss_eval -- --list
//!     cargo run --release --example loss_eval -- --loss arcface --param m=0.4 \
//!         --input in.safetensors --output out.safetensors

use std::path::PathBuf;

use anglegrad::loss_eval::{evaluate, read_inputs, write_outputs};
use anglegrad::losses::registry::{configure, LOSSES};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Evaluate an anglegrad loss and its gradients on a safetensors file")]
struct Args {
    /// Print one line per loss: name, `param=default` pairs, the tensors it reads.
    #[arg(long)]
    list: bool,
    /// The loss to evaluate (see --list).
    #[arg(long)]
    loss: Option<String>,
    /// A parameter as key=value (repeatable); unset parameters take their defaults.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Input file: `embeddings` [B,D], `labels` [B] (I64), and `weight`, `bias`, `centers`,
    /// `teacher_embeddings` as the loss needs (F32 or F64; computed in that dtype).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Output file: `loss` and `grad.<input>` for every differentiated input.
    #[arg(long)]
    output: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.list {
        for spec in LOSSES {
            let params: Vec<String> = spec
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!(
                "{:<14} {:<58} reads: {}",
                spec.name,
                params.join(" "),
                spec.reads.join(", ")
            );
        }
        return Ok(());
    }
    let (Some(name), Some(input), Some(output)) = (args.loss, args.input, args.output) else {
        anyhow::bail!(
            "give --list, or --loss NAME --input IN.safetensors --output OUT.safetensors"
        );
    };
    let params = args
        .params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("--param {p:?}: expected key=value"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let loss = configure(&name, &params)?;
    let out = evaluate(&loss, read_inputs(&input, &loss)?)?;
    write_outputs(&output, &out)?;
    println!(
        "{name}: loss {:.12e} -> {}",
        out.loss.to_scalar_f64()?,
        output.display()
    );
    Ok(())
}
