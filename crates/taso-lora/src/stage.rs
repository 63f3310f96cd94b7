//! One run of stage 3 on a run folder: read the run's `regions.safetensors`, draw the initial
//! adapters (A Kaiming-uniform from `run.seed`, B = 0), write `adapter-init.safetensors` and
//! the resolved `config.toml`.

use std::path::PathBuf;

use taso_adapter::AdapterSet;
use taso_artifact::{model_fingerprint, Artifact, ArtifactKind, ArtifactMeta, Regions};
use taso_run::{Method, ResolvedConfig, Sections};
use tch::Device;

use crate::LoraError;

/// What one run of the stage did.
#[derive(Debug)]
pub enum Outcome {
    /// The run's method trains no LoRA adapter (`bitfit`, `full`, `head-only`): nothing to do.
    NothingToDo(Method),
    /// The initial adapters were drawn and written.
    Written {
        /// The adapters, on the CPU.
        adapters: AdapterSet,
        /// The `adapter-init.safetensors` written.
        path: PathBuf,
    },
}

/// Runs stage 3 for the resolved config: checks the whole config first, then reads the
/// run folder's regions (refusing another kind or model) and writes the initial adapters.
pub fn run_stage(config: &ResolvedConfig) -> Result<Outcome, LoraError> {
    let Sections { run, lora, .. } = config.sections()?;
    if !run.method.uses_adapter() {
        return Ok(Outcome::NothingToDo(run.method));
    }
    let fingerprint = model_fingerprint(&run.model)?;
    let paths = run.paths();
    let task = run.task_name();
    let expect = paths.expect(ArtifactKind::Regions, &fingerprint, &task);
    let artifact = Artifact::open(&paths.regions(), &expect)?;
    let regions = Regions::from_artifact(&artifact)?;
    // The artifact is the same on every device: draw and write from the CPU.
    let adapters = AdapterSet::init(&regions, &lora, run.seed, Device::Cpu)?;
    let meta = ArtifactMeta::new(
        ArtifactKind::AdapterInit,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        fingerprint,
        task,
        &lora,
    )?
    .with_parent(artifact.digest.clone());
    let path = paths.adapter_init();
    adapters.write(&path, meta)?;
    config.write(&paths.config())?;
    Ok(Outcome::Written { adapters, path })
}

impl Outcome {
    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        match self {
            Outcome::NothingToDo(method) => {
                format!("taso-lora: method {method} trains no adapter; nothing to do")
            }
            Outcome::Written { adapters, path } => {
                let scaling = adapters.scaling();
                let sparse = adapters.num_params();
                let dense = adapters.dense_equivalent_params(scaling.rank);
                format!(
                    "taso-lora: wrote {}\n  adapted matrices {}, rank {}, alpha {}, scale {}{}\n  \
                     trainable adapter parameters {sparse} ({:.1}% of a dense rank-{} LoRA on \
                     the same matrices: {dense})",
                    path.display(),
                    adapters.matrices().len(),
                    scaling.rank,
                    scaling.alpha,
                    adapters.scale(),
                    if scaling.rslora { " (rslora)" } else { "" },
                    100.0 * sparse as f64 / dense as f64,
                    scaling.rank,
                )
            }
        }
    }
}
