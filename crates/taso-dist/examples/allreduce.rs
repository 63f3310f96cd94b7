//! Each rank contributes `rank + 1`; all-reduce, mean and broadcast must agree on every rank.
//!
//! ```text
//! cargo build -p taso-dist --example allreduce
//! .venv/bin/torchrun --no-python --nproc-per-node 2 target/debug/examples/allreduce
//! scripts/dist-run.sh 2 target/debug/examples/allreduce    # the same without torchrun
//! ```
//!
//! Run alone (no WORLD_SIZE) it says so and checks nothing. `just dist-check` builds and runs it.

use std::process::ExitCode;

use taso_dist::ProcessGroup;
use tch::{Device, Tensor};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("allreduce: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Some(group) = ProcessGroup::from_env(Device::Cpu)? else {
        println!("allreduce: not launched distributed (no WORLD_SIZE > 1); run it under torchrun");
        return Ok(());
    };
    let (rank, world) = (group.rank(), group.world_size());
    let mine = (rank + 1) as f32;
    let expected_sum = (world * (world + 1) / 2) as f32;

    let mut sum = Tensor::from_slice(&[mine; 4]);
    group.all_reduce_sum(&mut sum)?;
    let mut mean = Tensor::from_slice(&[mine; 4]);
    group.all_reduce_mean(&mut mean)?;
    let mut token = Tensor::from_slice(&[if group.is_main() { 42.0f32 } else { 0.0 }]);
    group.broadcast(&mut token, 0)?;
    group.barrier()?;

    let (sum, mean, token) = (
        sum.double_value(&[0]) as f32,
        mean.double_value(&[0]) as f32,
        token.double_value(&[0]),
    );
    let ok = sum == expected_sum && mean == expected_sum / world as f32 && token == 42.0;
    println!(
        "rank {rank}/{world} (local {}): sum {sum} (expected {expected_sum}), mean {mean}, broadcast {token}: {}",
        group.local_rank(),
        if ok { "ok" } else { "MISMATCH" }
    );
    if !ok {
        return Err("the ranks disagree".into());
    }
    Ok(())
}
