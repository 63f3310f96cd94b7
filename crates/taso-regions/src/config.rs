//! The `[regions]` section of a run config. Its types live in the run layer (`taso-run`), so
//! that every stage validates the whole config before any work; they are re-exported here.

use serde::Serialize;

pub use taso_run::sections::regions::{
    Allocation, Budget, LineRule, Normalize, RegionsConfig, Shape,
};

/// The config spelling of a unit enum value (`"matrix-mean"`, `"core-count"`, ...).
pub(crate) fn spelling(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}
