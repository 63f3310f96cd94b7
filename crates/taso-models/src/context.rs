//! What the training and evaluation stages share about a run: its settings and folder, the
//! task and its tokenizer, the device, and the base model with its fresh, seeded head.

use std::path::PathBuf;

use taso_artifact::model_fingerprint;
use taso_artifact::run::{RunPaths, RunSettings};
use taso_data::{load_task, resolve_data_dir, Split, TaskSpec, TextTokenizer, TokenizedSplit};
use tch::Device;

use crate::error::{ModelError, Result};
use crate::{head_kind_for, parse_device, set_threads, HeadInit, SequenceClassifier};

/// A run's settings with everything they point at loaded: task, data folder, tokenizer,
/// device and the base model's fingerprint.
pub struct RunContext {
    /// The `[run]` section.
    pub run: RunSettings,
    /// The run folder's file names.
    pub paths: RunPaths,
    /// The task.
    pub task: TaskSpec,
    /// Where the task's files are.
    pub data_dir: PathBuf,
    /// The model's tokenizer (`<model>/tokenizer.json`), truncating at `run.max_len`.
    pub tokenizer: TextTokenizer,
    /// Where tensors live.
    pub device: Device,
    /// The base model's fingerprint, recorded in and checked against every artifact.
    pub fingerprint: String,
}

impl RunContext {
    /// Validates `run`, sets the CPU threads, picks the device and loads task and tokenizer.
    pub fn new(run: RunSettings) -> Result<Self> {
        run.validate()?;
        set_threads(run.threads);
        let device = parse_device(&run.device)?;
        let task = load_task(&run.task)?;
        let data_dir = resolve_data_dir(run.data_dir.as_deref())?;
        let fingerprint = model_fingerprint(&run.model)?;
        let tokenizer = TextTokenizer::from_file(&run.model.join("tokenizer.json"), run.max_len)?;
        Ok(Self {
            paths: run.paths(),
            run,
            task,
            data_dir,
            tokenizer,
            device,
            fingerprint,
        })
    }

    /// Reads and tokenizes `split`, keeping only its first `limit` examples when given.
    pub fn split(&self, split: Split, limit: Option<usize>) -> Result<TokenizedSplit> {
        let mut examples = self.task.read_split(&self.data_dir, split)?;
        if let Some(limit) = limit {
            examples.truncate(limit);
        }
        Ok(TokenizedSplit::new(&self.tokenizer, &examples)?)
    }

    /// Refuses `data` (read from `split`) unless every example has a label, as training and
    /// scoring need.
    pub fn require_labels(&self, split: Split, data: &TokenizedSplit) -> Result<()> {
        match data.gold() {
            Some(_) => Ok(()),
            None => Err(ModelError::Unlabeled {
                task: self.task.name.clone(),
                split,
            }),
        }
    }

    /// The base model with a fresh task head drawn from `run.seed` — the head the importance
    /// scorer saw, and the one every method starts from.
    pub fn load_model(&self) -> Result<SequenceClassifier> {
        let head = head_kind_for(&self.task.labels);
        let init = HeadInit::Fresh {
            seed: self.run.seed,
        };
        SequenceClassifier::load(&self.run.model, head, init, self.device)
    }
}
