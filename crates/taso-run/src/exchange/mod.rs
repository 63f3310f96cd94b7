//! A run's adapter in and out of the formats other tools use: PEFT LoRA folders both ways
//! ([`export_peft`], [`import_peft`]) and the adapter merged into a Hugging Face model folder
//! ([`export_merged`]).

mod merged;
mod peft;

pub use merged::{export_merged, MergedExport, EXPORT_RECORD, MERGED_WEIGHTS};
pub use peft::{export_peft, import_peft, ImportedPeft, SOURCE};
