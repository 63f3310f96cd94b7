//! Stage 3 of TASO: the initial sparse LoRA adapters of a run, built from its core regions.
//!
//! [`run_stage`] reads the run folder's `regions.safetensors` (written by stage 2), draws each
//! adapted matrix's factors — `A` Kaiming-uniform from `run.seed`, `B = 0`, so the adapted
//! model starts equal to the base — and writes `adapter-init.safetensors` for the trainer. The
//! adapter modules themselves live in [`taso_adapter`], which the trainer and the evaluator
//! use too; this crate is only their construction. The `taso-lora` binary is a thin shell
//! around [`run_stage`].
//!
//! ```no_run
//! use taso_run::ResolvedConfig;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ResolvedConfig::load("configs/rte.toml".as_ref(), &[])?;
//! let outcome = taso_lora::run_stage(&config)?;
//! println!("{}", outcome.summary());
//! # Ok(()) }
//! ```

mod error;
mod stage;

pub use error::LoraError;
pub use stage::{run_stage, Outcome};
