//! `taso-lora`: stage 3. Reads the run's `regions.safetensors`, draws the initial sparse LoRA
//! adapters (A Kaiming-uniform from `run.seed`, B = 0) and writes `adapter-init.safetensors`
//! and the resolved `config.toml` to the run folder.

use anyhow::{Context, Result};
use clap::Parser;
use taso_artifact::run::{ResolvedConfig, RunSettings, StageArgs};
use taso_artifact::{model_fingerprint, Artifact, ArtifactKind, ArtifactMeta, Expect};
use taso_lora::{AdapterSet, LoraConfig};
use taso_regions::Regions;
use tch::Device;

/// Build the initial sparse LoRA adapters of a run from its core regions.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
}

fn main() -> Result<()> {
    taso_artifact::run::init_logging();
    let args = Args::parse();
    let config = ResolvedConfig::load(&args.stage)?;
    let run = config.run()?;
    let lora: LoraConfig = config.section("lora")?;
    lora.validate()?;
    if !run.method.uses_adapter() {
        println!(
            "taso-lora: method {} trains no adapter; nothing to do",
            method_name(&run)
        );
        return Ok(());
    }
    let adapters = write_init(&run, &lora)?;
    let paths = run.paths();
    config.write(&paths.config())?;
    print_summary(&run, &adapters);
    Ok(())
}

/// Reads the regions, draws the adapters and writes `adapter-init.safetensors`.
fn write_init(run: &RunSettings, lora: &LoraConfig) -> Result<AdapterSet> {
    let fingerprint = model_fingerprint(&run.model)
        .with_context(|| format!("fingerprinting the model in {}", run.model.display()))?;
    let paths = run.paths();
    let expect = Expect::kind(ArtifactKind::Regions).model(fingerprint.as_str());
    let artifact = Artifact::open(&paths.regions(), &expect)?;
    let regions = Regions::from_artifact(&artifact)?;
    // The artifact is the same on every device: draw and write from the CPU.
    let adapters = AdapterSet::init(&regions, lora, run.seed, Device::Cpu)?;
    let meta = ArtifactMeta::new(
        ArtifactKind::AdapterInit,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        fingerprint,
        run.task_name(),
        lora,
    )?
    .with_parent(artifact.digest.clone());
    let out = paths.adapter_init();
    adapters
        .write(&out, meta)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(adapters)
}

fn print_summary(run: &RunSettings, adapters: &AdapterSet) {
    let scaling = adapters.scaling();
    let (sparse, dense) = (
        adapters.num_params(),
        adapters.dense_equivalent_params(scaling.rank),
    );
    println!(
        "taso-lora: wrote {}\n  adapted matrices {}, rank {}, alpha {}, scale {}{}\n  \
         trainable adapter parameters {sparse} ({:.1}% of a dense rank-{} LoRA on the same \
         matrices: {dense})",
        run.paths().adapter_init().display(),
        adapters.matrices().len(),
        scaling.rank,
        scaling.alpha,
        adapters.scale(),
        if scaling.rslora { " (rslora)" } else { "" },
        100.0 * sparse as f64 / dense as f64,
        scaling.rank,
    );
}

/// The method as written in the config (`bitfit`, `head-only`, ...).
fn method_name(run: &RunSettings) -> String {
    serde_json::to_value(run.method)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{:?}", run.method))
}
