//! Sparse LoRA adapters that exist only on each matrix's core rows and columns: the modules
//! the trainer trains and the evaluator applies, and the artifacts that hold them.
//!
//! For an adapted matrix `W ∈ R^{d_out×d_in}` with kept rows R and columns C (from a
//! [`taso_artifact::Regions`]), the update is `ΔW[R, C] = s · B A` with `A ∈ R^{r×|C|}`,
//! `B ∈ R^{|R|×r}` and zero elsewhere; see `docs/method.md`, stage 3. A dense LoRA is the
//! special case R, C = everything.
//!
//! - [`LoraConfig`]: the `[lora]` config section (α, rslora, [`LoraForm`]).
//! - [`SparseLora`] (compact: gather C, scatter-add into R) and [`MaskedLora`] (dense factors
//!   under fixed masks, to verify it): the two [`taso_models::LinearAdapter`]s.
//! - [`MatrixAdapter`]: one matrix's region and factors. [`AdapterSet`]: all of a model's —
//!   initialisation, attaching to a [`taso_models::LinearHost`], parameter counts, merge and
//!   un-merge, `adapter-init`/`adapter` artifacts, PEFT export ([`PeftOptions`]) and import
//!   ([`AdapterSet::from_peft`], which finds the zero rows and columns again).
//!
//! ```no_run
//! use taso_adapter::{AdapterSet, LoraConfig};
//! use taso_artifact::{Artifact, ArtifactKind, Expect, Regions};
//! use taso_models::{HeadInit, HeadKind, SequenceClassifier};
//! use tch::Device;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let artifact = Artifact::open("regions.safetensors".as_ref(), &Expect::kind(ArtifactKind::Regions))?;
//! let regions = Regions::from_artifact(&artifact)?;
//! let adapters = AdapterSet::init(&regions, &LoraConfig::default(), 0, Device::Cpu)?;
//! let mut model = SequenceClassifier::load(
//!     "models/all-MiniLM-L6-v2".as_ref(), HeadKind::Classification(2), HeadInit::Fresh { seed: 0 }, Device::Cpu,
//! )?;
//! adapters.attach(&mut model)?; // train `adapters.trainable()`, then:
//! adapters.detach(&mut model)?;
//! adapters.merge_into(&mut model)?;
//! # Ok(()) }
//! ```

mod adapter;
mod artifact;
mod config;
mod error;
mod matrix;
mod peft;
mod set;
#[cfg(feature = "testing")]
pub mod testing;

pub use adapter::{MaskedLora, SparseLora};
pub use config::{InitFanIn, LoraConfig, LoraForm, Scaling};
pub use error::AdapterError;
pub use matrix::MatrixAdapter;
pub use peft::{PeftAdapter, PeftConfig, PeftOptions, PEFT_CONFIG, PEFT_WEIGHTS};
pub use set::AdapterSet;
