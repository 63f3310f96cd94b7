//! What the training and evaluation stages share about a run: its settings and folder, the
//! task and its tokenizer, the device, and the base model with its fresh, seeded head.

use std::path::PathBuf;

use taso_artifact::{model_fingerprint, ArtifactKind, Expect};
use taso_data::{
    hold_out, load_any_task, resolve_data_dir, AnyTask, PromptSplit, PromptTokenizer, Split,
    TextTokenizer, TokenizedSplit,
};
use tch::Device;

use taso_models::{
    head_kind_for, parse_device, set_threads, CausalLm, GenerationConfig, HeadInit, ModelError,
    ModelFamily, PromptData, SequenceClassifier, TaskData, TaskModel,
};

use crate::error::RunError;
use crate::parallel::{data_parallel, DataParallel};
use crate::settings::{RunPaths, RunSettings};

type Result<T> = std::result::Result<T, RunError>;

/// Which models serve which tasks, for the refusal of a mismatched run.
const PAIRING_ADVICE: &str = "encoders (BERT, RoBERTa, e.g. models/all-MiniLM-L6-v2) serve \
    classification tasks (GLUE: rte, sst2, ...) and decoders (LLaMA, Mistral, Qwen2, e.g. \
    models/SmolLM2-135M-Instruct) serve prompt tasks (boolq, wic, arc-challenge, gsm8k, sst2-prompt, …): change \
    `run.model` or `run.task`";

/// The tokenizer of a run's model family.
pub enum RunTokenizer {
    /// An encoder's text (pair) tokenizer.
    Text(Box<TextTokenizer>),
    /// A decoder's prompt/answer tokenizer (with its chat template, if any).
    Prompt(Box<PromptTokenizer>),
}

/// A run's settings with everything they point at loaded: task, data folder, tokenizer,
/// device and the base model's fingerprint.
pub struct RunContext {
    /// The `[run]` section.
    pub run: RunSettings,
    /// The run folder's file names.
    pub paths: RunPaths,
    /// The task.
    pub task: AnyTask,
    /// Where the task's files are.
    pub data_dir: PathBuf,
    /// The model's tokenizer (`<model>/tokenizer.json`), truncating at `run.max_len`.
    pub tokenizer: RunTokenizer,
    /// Where tensors live.
    pub device: Device,
    /// The base model's fingerprint, recorded in and checked against every artifact.
    pub fingerprint: String,
    /// How free-form answers of prompt tasks are generated (the config's `[generate]`; the
    /// stage binaries set it, default otherwise).
    pub generation: GenerationConfig,
    /// This process's place in a data-parallel run (launched by `torchrun`); `None` otherwise.
    pub parallel: Option<&'static DataParallel>,
}

impl RunContext {
    /// Validates `run`, sets the CPU threads, picks the device and loads task and tokenizer;
    /// refuses a prompt task on an encoder and a classification task on a decoder.
    pub fn new(run: RunSettings) -> Result<Self> {
        run.validate()?;
        set_threads(run.threads);
        let parallel = data_parallel()?;
        let named = parse_device(&run.device)?;
        let device = parallel.map_or(named, |group| group.device_for(named, &run.device));
        let task = load_any_task(&run.task)?;
        let family = ModelFamily::of_dir(&run.model)?;
        let path = run.model.join("tokenizer.json");
        let tokenizer = match (&task, family) {
            (AnyTask::Classification(_), ModelFamily::Encoder) => {
                RunTokenizer::Text(Box::new(TextTokenizer::from_file(&path, run.max_len)?))
            }
            (AnyTask::Prompt(_), ModelFamily::Decoder(_)) => {
                RunTokenizer::Prompt(Box::new(PromptTokenizer::from_path(&path, run.max_len)?))
            }
            (task, family) => return Err(mismatch(task, family, &run).into()),
        };
        let data_dir = resolve_data_dir(run.data_dir.as_deref())?;
        let fingerprint = model_fingerprint(&run.model)?;
        Ok(Self {
            paths: run.paths(),
            run,
            task,
            data_dir,
            tokenizer,
            device,
            fingerprint,
            generation: GenerationConfig::default(),
            parallel,
        })
    }

    /// Whether this process writes the run's files: always, except on the ranks other than 0
    /// of a data-parallel run.
    pub fn is_main(&self) -> bool {
        self.parallel.is_none_or(DataParallel::is_main)
    }

    /// What a stage requires of the run folder's `kind` artifact: this model, this task, made
    /// from the folder's upstream file as it is now ([`RunPaths::expect`]).
    pub fn expect(&self, kind: ArtifactKind) -> Expect {
        self.paths.expect(kind, &self.fingerprint, self.task.name())
    }

    /// The name of the task's main (first) metric.
    pub fn main_metric(&self) -> &'static str {
        match &self.task {
            AnyTask::Classification(t) => t.metrics[0].name(),
            AnyTask::Prompt(t) => t.metrics[0].name(),
        }
    }

    /// Reads and tokenizes `split`, keeping only its first `limit` examples when given.
    pub fn split(&self, split: Split, limit: Option<usize>) -> Result<TaskData> {
        self.split_where(split, first(limit))
    }

    /// Reads and tokenizes the examples of `split` whose 0-based index `keep` accepts. On the
    /// training split the `run.holdout` examples are set aside first, and `keep` sees the
    /// positions of the others.
    pub fn split_where(&self, split: Split, keep: impl Fn(usize) -> bool) -> Result<TaskData> {
        self.read(split, &keep, false).map(|(kept, _)| kept)
    }

    /// Reads the training file once and tokenizes its first `limit` examples after the hold-out
    /// is set aside, and the `run.holdout` held-out examples that choose the best epoch (and lr)
    /// instead of the dev split (`None` when `run.holdout` is 0).
    pub fn train_and_holdout(&self, limit: Option<usize>) -> Result<(TaskData, Option<TaskData>)> {
        self.read(Split::Train, &first(limit), true)
    }

    /// The examples of `split` that `keep` accepts, tokenized, and the held-out training
    /// examples too when `with_holdout` asks for them and `run.holdout` sets some aside.
    fn read(
        &self,
        split: Split,
        keep: &dyn Fn(usize) -> bool,
        with_holdout: bool,
    ) -> Result<(TaskData, Option<TaskData>)> {
        match (&self.task, &self.tokenizer) {
            (AnyTask::Classification(task), RunTokenizer::Text(tokenizer)) => {
                let examples = task.read_split(&self.data_dir, split)?;
                let (kept, held) = self.pick(examples, split, keep, with_holdout)?;
                let tokenize = |examples: Vec<_>| -> Result<TaskData> {
                    let split = TokenizedSplit::new(tokenizer, &examples)?;
                    Ok(TaskData::Classification(split))
                };
                Ok((tokenize(kept)?, held.map(tokenize).transpose()?))
            }
            (AnyTask::Prompt(task), RunTokenizer::Prompt(tokenizer)) => {
                let examples = task.read_split(&self.data_dir, split)?;
                let (kept, held) = self.pick(examples, split, keep, with_holdout)?;
                let tokenize = |examples: Vec<_>| -> Result<TaskData> {
                    let split = PromptSplit::new(tokenizer, task, &examples)?;
                    Ok(TaskData::Prompt(PromptData { split, examples }))
                };
                Ok((tokenize(kept)?, held.map(tokenize).transpose()?))
            }
            _ => unreachable!("RunContext::new pairs the tokenizer with the task"),
        }
    }

    /// Splits `examples` (of `split`) into those `keep` accepts — on the training split counted
    /// after the `run.holdout` examples are set aside — and, when `with_holdout` asks and some
    /// are set aside, the held-out ones.
    fn pick<T>(
        &self,
        examples: Vec<T>,
        split: Split,
        keep: &dyn Fn(usize) -> bool,
        with_holdout: bool,
    ) -> Result<(Vec<T>, Option<Vec<T>>)> {
        let (kept, held) = match split {
            Split::Train => hold_out(examples, self.run.holdout)?,
            _ => (examples, Vec::new()),
        };
        let kept = kept.into_iter().enumerate().filter(|(i, _)| keep(*i));
        let held = (with_holdout && !held.is_empty()).then_some(held);
        Ok((kept.map(|(_, example)| example).collect(), held))
    }

    /// Refuses `data` (read from `split`) unless every example has a label (or gold answer),
    /// as training and scoring need.
    pub fn require_labels(&self, split: Split, data: &TaskData) -> Result<()> {
        if data.is_labeled() {
            return Ok(());
        }
        Err(ModelError::Unlabeled {
            task: self.task.name().to_string(),
            split,
        }
        .into())
    }

    /// The base model with a fresh task head drawn from `run.seed` — the head the importance
    /// scorer saw, and the one every method starts from. A decoder keeps its own LM head.
    pub fn load_model(&self) -> Result<TaskModel> {
        match &self.task {
            AnyTask::Classification(task) => {
                let head = head_kind_for(&task.labels);
                let init = HeadInit::Fresh {
                    seed: self.run.seed,
                };
                let model = SequenceClassifier::load_as(
                    &self.run.model,
                    head,
                    init,
                    self.device,
                    self.run.dtype,
                )?;
                Ok(TaskModel::Classifier(model))
            }
            AnyTask::Prompt(_) => Ok(TaskModel::CausalLm(CausalLm::load_as(
                &self.run.model,
                self.device,
                self.run.dtype,
            )?)),
        }
    }
}

/// Accepts the positions below `limit` (all of them without one).
fn first(limit: Option<usize>) -> impl Fn(usize) -> bool {
    move |index| limit.is_none_or(|limit| index < limit)
}

fn mismatch(task: &AnyTask, family: ModelFamily, run: &RunSettings) -> ModelError {
    ModelError::TaskModelMismatch {
        task: task.name().to_string(),
        task_kind: match task {
            AnyTask::Classification(_) => "classification",
            AnyTask::Prompt(_) => "prompt",
        },
        model: run.model.display().to_string(),
        model_kind: match family {
            ModelFamily::Encoder => "an encoder",
            ModelFamily::Decoder(_) => "a decoder",
        },
        advice: PAIRING_ADVICE,
    }
}
