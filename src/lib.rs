//! `taso` re-exports every crate of the workspace under one name, so that another Rust project
//! can depend on the whole method with one line. Each stage is also usable on its own crate.
//!
//! | module | crate | job |
//! |---|---|---|
//! | [`artifact`] | `taso-artifact` | versioned safetensors artifacts passed between stages |
//! | [`data`] | `taso-data` | task readers, tokenization, batching, metrics |
//! | [`models`] | `taso-models` | BERT/RoBERTa encoders and LLaMA-style decoders in tch with an adapter seam |
//! | [`adapter`] | `taso-adapter` | the sparse LoRA modules, their artifacts, merge and PEFT export |
//! | [`run`] | `taso-run` | configs, run folders, a run's task and model, evaluation on a split, the binaries' shell |
//! | [`score`] | `taso-score` | stage 1: importance scoring |
//! | [`regions`] | `taso-regions` | stage 2: core-region selection |
//! | [`lora`] | `taso-lora` | stage 3: sparse LoRA construction |
//! | [`train`] | `taso-train` | stage 4: masked trainer |
//! | [`eval`] | `taso-eval` | stage 5: evaluation |
//!
//! The five stages on one run folder, as `just pipeline` runs them (each binary is a thin shell
//! around its stage's call):
//!
//! ```no_run
//! use taso::run::ResolvedConfig;
//! use taso::{eval, lora, regions, score, train};
//! # fn main() -> anyhow::Result<()> {
//! let overrides = ["run.name=\"from-rust\"".to_string()];
//! let config = ResolvedConfig::load("configs/rte.toml".as_ref(), &overrides)?;
//! println!("{}", score::run_stage(&config)?.summary());
//! println!("{}", regions::run_stage(&config)?.summary());
//! println!("{}", lora::run_stage(&config)?.summary());
//! println!("{}", train::run_stage(&config)?.summary());
//! println!("{}", eval::run_stage(&config, None)?.summary());
//! # Ok(()) }
//! ```

pub use taso_adapter as adapter;
pub use taso_artifact as artifact;
pub use taso_data as data;
pub use taso_eval as eval;
pub use taso_lora as lora;
pub use taso_models as models;
pub use taso_regions as regions;
pub use taso_run as run;
pub use taso_score as score;
pub use taso_train as train;
