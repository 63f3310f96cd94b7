//! The error type of the evaluator.

use std::path::PathBuf;

/// Everything that can stop an evaluation or export.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] taso_run::ConfigError),
    /// Loading the run, the model or the adapter file, or scoring, failed.
    #[error(transparent)]
    Run(#[from] taso_run::RunError),
    /// The run's task, data or model could not be set up.
    #[error(transparent)]
    Model(#[from] taso_models::ModelError),
    /// The adapter could not be exported.
    #[error(transparent)]
    Adapter(#[from] taso_adapter::AdapterError),
    /// The run folder's training has not finished (`training.incomplete` is there).
    #[error(
        "the training in {} did not finish (it is under way, or was killed or failed), so its \
         adapter files are not final; resume it with `taso-train --resume` and the same config, \
         or pass --allow-incomplete to evaluate the last adapter it saved",
        .dir.display()
    )]
    IncompleteTraining {
        /// The run folder.
        dir: PathBuf,
    },
    /// `eval.adapter = "none"` on an encoder task.
    #[error(
        "`eval.adapter = \"none\"` evaluates the base model as it is, which only a decoder can \
         (an encoder's classification head exists only once trained); evaluate a trained \
         adapter (`best` or `last`) instead"
    )]
    NoBaseline,
    /// A PEFT export was asked for an evaluation of the base model alone.
    #[error(
        "`eval.adapter = \"none\"` evaluated the base model alone, so there is no adapter to \
         export; set `eval.adapter` to `best` or `last`, or pass --adapter FILE"
    )]
    NothingToExport,
    /// A knock-out was asked for the base model alone.
    #[error(
        "`eval.adapter = \"none\"` names no adapter, so there is nothing to knock out; set \
         `eval.adapter` to `best` or `last`, or pass --adapter FILE"
    )]
    NothingToKnockOut,
    /// A knock-out was asked for a file whose method trains no adapter matrices.
    #[error(
        "the file was trained with method `{method}`, which has no adapter matrices to knock \
         out; knock out an adapter of method taso, lora or random-regions"
    )]
    NoAdapterMatrices {
        /// The file's method.
        method: String,
    },
    /// A knock-out was asked on a split without labels.
    #[error(
        "the {split} split has no labels, so a knock-out has no metric to compare; set \
         `eval.split` to a labeled split (dev, or train)"
    )]
    UnlabeledKnockout {
        /// The split.
        split: taso_data::Split,
    },
    /// The knock-out's chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] taso_plot::PlotError),
    /// An output could not be written.
    #[error("cannot write {}: {source}; {}", .path.display(), taso_artifact::io_advice(.source))]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
