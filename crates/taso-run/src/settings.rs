//! The `[run]` section every stage shares — task, model, method, seed, device, targets — and
//! the fixed file names of a run folder `runs/<task>/<run-name>/` (see `docs/artifacts.md`).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use taso_artifact::{target_position, ArtifactKind, Expect};
use taso_models::ComputeDtype;

use crate::error::ConfigError;

/// Which method a run trains: TASO or one of the baselines, all through the same stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Sparse LoRA on the task-aligned core regions.
    #[default]
    Taso,
    /// Dense LoRA on the same targets.
    Lora,
    /// Sparse LoRA on random regions of the same sizes.
    RandomRegions,
    /// Biases only.
    Bitfit,
    /// Every base weight.
    Full,
    /// The task head only.
    HeadOnly,
}

impl Method {
    /// The config spelling (`taso`, `random-regions`, `head-only`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Taso => "taso",
            Self::Lora => "lora",
            Self::RandomRegions => "random-regions",
            Self::Bitfit => "bitfit",
            Self::Full => "full",
            Self::HeadOnly => "head-only",
        }
    }

    /// Whether the method trains a (sparse or dense) LoRA adapter.
    pub fn uses_adapter(self) -> bool {
        matches!(self, Self::Taso | Self::Lora | Self::RandomRegions)
    }

    /// Whether the method updates tensors of the base model itself (its weights or biases).
    pub fn trains_base(self) -> bool {
        matches!(self, Self::Bitfit | Self::Full)
    }

    /// Whether the method needs importance scores.
    pub fn needs_scores(self) -> bool {
        matches!(self, Self::Taso | Self::RandomRegions)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `[run]` section: what every stage of a run shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    /// Built-in task name or path to a task TOML.
    pub task: String,
    /// Model folder (Hugging Face layout).
    pub model: PathBuf,
    /// Run name: the folder under `runs_dir/<task>/`.
    pub name: String,
    /// Root of all run folders.
    pub runs_dir: PathBuf,
    /// Data folder (default: `TASO_DATA_DIR`, `data/shared`, `../shared/data`).
    pub data_dir: Option<PathBuf>,
    /// Method trained by this run.
    pub method: Method,
    /// Seed of data order, head init and region randomness.
    pub seed: u64,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// What the frozen base model computes in: `f32` (default), `bf16` (the choice on a GPU) or
    /// `f16` (with dynamic loss scaling, for GPUs without bf16). Adapters, heads and optimizer
    /// state are f32 whatever it is.
    pub dtype: ComputeDtype,
    /// libtorch CPU threads (default: one per core).
    pub threads: Option<usize>,
    /// Truncation length in tokens.
    pub max_len: usize,
    /// Training examples set aside (evenly spread, the same for every seed and method) to choose
    /// the best epoch on — and, in `taso-compare`, the learning rate — instead of the dev split,
    /// which is then only reported; scoring and training never see them. 0: select on dev.
    pub holdout: usize,
    /// Target linear layers, as suffixes of their module paths.
    pub targets: Vec<String>,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            task: String::new(),
            model: PathBuf::from("models/all-MiniLM-L6-v2"),
            name: "default".to_string(),
            runs_dir: PathBuf::from("runs"),
            data_dir: None,
            method: Method::Taso,
            seed: 0,
            device: "auto".to_string(),
            dtype: ComputeDtype::F32,
            threads: None,
            max_len: 128,
            holdout: 0,
            targets: [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "intermediate.dense",
                "output.dense",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl RunSettings {
    /// Checks the values before any work starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            section: "run".to_string(),
            message,
        };
        if self.task.trim().is_empty() {
            return Err(invalid(
                "`task` is empty: set a built-in task (rte, mrpc, ...) or a task .toml path".into(),
            ));
        }
        if self.name.trim().is_empty() || self.name.contains('/') {
            return Err(invalid(format!(
                "`name` must be a plain folder name, not `{}`",
                self.name
            )));
        }
        if self.max_len < 8 {
            return Err(invalid(format!(
                "`max_len` = {} is too small (at least 8)",
                self.max_len
            )));
        }
        if self.method.trains_base() && self.dtype != ComputeDtype::F32 {
            return Err(invalid(format!(
                "method `{}` trains base tensors, which need f32 master weights; with `dtype` = \"{}\" \
                 use an adapter method (taso, lora, random-regions) or set `dtype` = \"f32\"",
                self.method, self.dtype
            )));
        }
        if self.targets.is_empty() {
            return Err(invalid(
                "`targets` is empty: name at least one linear layer suffix".into(),
            ));
        }
        Ok(())
    }

    /// Whether the linear layer `name` is one of `targets` (the rule of
    /// [`taso_artifact::target_position`]).
    pub fn is_target(&self, name: &str) -> bool {
        target_position(name, &self.targets).is_some()
    }

    /// The task's name, for the run folder and the comparison tables: a built-in task's, or the
    /// `name` a task TOML gives (its file stem when the file cannot be read; the stage that
    /// loads the task then says what is wrong with it).
    pub fn task_name(&self) -> String {
        match taso_data::load_any_task(&self.task) {
            Ok(task) => task.name().to_string(),
            Err(_) => Path::new(&self.task)
                .file_stem()
                .map_or_else(|| self.task.clone(), |s| s.to_string_lossy().into_owned()),
        }
    }

    /// The run folder's paths.
    pub fn paths(&self) -> RunPaths {
        RunPaths {
            dir: self.runs_dir.join(self.task_name()).join(&self.name),
        }
    }
}

/// The fixed file names of one run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// The run folder.
    pub dir: PathBuf,
}

impl RunPaths {
    /// Creates the run folder if needed.
    pub fn create(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)
    }

    /// What a stage requires of this run folder's `kind` artifact: made for the model with
    /// `fingerprint` and for `task`, and — when it records a parent — from this folder's
    /// [`upstream`](Self::upstream) file as that file is now.
    pub fn expect(&self, kind: ArtifactKind, fingerprint: &str, task: &str) -> Expect {
        let expect = Expect::kind(kind).model(fingerprint).task(task);
        match self.upstream(kind) {
            Some(parent) => expect.parent_file(parent),
            None => expect,
        }
    }

    /// The file a `kind` artifact of this folder is made from: `regions` from `importance`,
    /// `adapter-init` from `regions`, `adapter` and `checkpoint` from `adapter-init`.
    pub fn upstream(&self, kind: ArtifactKind) -> Option<PathBuf> {
        match kind {
            ArtifactKind::Regions => Some(self.importance()),
            ArtifactKind::AdapterInit => Some(self.regions()),
            ArtifactKind::Adapter | ArtifactKind::Checkpoint => Some(self.adapter_init()),
            _ => None,
        }
    }

    /// `importance.safetensors`.
    pub fn importance(&self) -> PathBuf {
        self.dir.join("importance.safetensors")
    }

    /// `regions.safetensors`.
    pub fn regions(&self) -> PathBuf {
        self.dir.join("regions.safetensors")
    }

    /// `adapter-init.safetensors`.
    pub fn adapter_init(&self) -> PathBuf {
        self.dir.join("adapter-init.safetensors")
    }

    /// `adapter.safetensors` (last epoch).
    pub fn adapter(&self) -> PathBuf {
        self.dir.join("adapter.safetensors")
    }

    /// `adapter-best.safetensors` (best dev epoch).
    pub fn adapter_best(&self) -> PathBuf {
        self.dir.join("adapter-best.safetensors")
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// `metrics.json`.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.json")
    }

    /// `predictions.tsv`.
    pub fn predictions(&self) -> PathBuf {
        self.dir.join("predictions.tsv")
    }

    /// `config.toml` (the resolved config).
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// `curves.png` (loss and main metric per epoch, embedded in the report).
    pub fn curves(&self) -> PathBuf {
        self.dir.join("curves.png")
    }

    /// `report.md`.
    pub fn report(&self) -> PathBuf {
        self.dir.join("report.md")
    }

    /// `training.incomplete`: present while a training run has not finished (it is under way,
    /// or was killed or failed); `taso-eval` refuses the folder's adapters while it is there.
    pub fn training_marker(&self) -> PathBuf {
        self.dir.join("training.incomplete")
    }

    /// Checks, before long work, that the run folder can be written: the folder itself when
    /// it exists, else the nearest folder above it that does. Creates nothing that stays.
    pub fn check_writable(&self) -> std::io::Result<()> {
        let mut folder = self.dir.as_path();
        while !folder.exists() {
            match folder.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => folder = parent,
                _ => {
                    folder = Path::new(".");
                    break;
                }
            }
        }
        // Named like an atomic write's temporary file, so a kill here leaves nothing that the
        // next write into the folder does not remove.
        let probe = folder.join(format!(".write-probe.tmp-{}-0", std::process::id()));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("{} is not writable: {e}", folder.display()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_the_config_spelling() {
        use Method::*;
        for method in [Taso, Lora, RandomRegions, Bitfit, Full, HeadOnly] {
            let spelled = toml::Value::try_from(method).unwrap();
            assert_eq!(spelled.as_str(), Some(method.name()));
            assert_eq!(method.to_string(), method.name());
        }
    }

    #[test]
    fn targets_match_whole_paths_inside_blocks() {
        let run = RunSettings::default();
        assert!(run.is_target("encoder.layer.0.attention.self.query"));
        assert!(run.is_target("encoder.layer.11.output.dense"));
        assert!(run.is_target("encoder.layer.1.attention.output.dense"));
        assert!(!run.is_target("pooler.dense"));
        assert!(!run.is_target("classifier.dense"));
        let only_output = RunSettings {
            targets: vec!["output.dense".into()],
            ..RunSettings::default()
        };
        assert!(only_output.is_target("encoder.layer.2.output.dense"));
        assert!(!only_output.is_target("encoder.layer.2.attention.output.dense"));
    }

    #[test]
    fn a_task_file_names_the_run_folder_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v2-final.toml");
        let spec = "name = \"my-nli\"\nformat = \"tsv\"\ntext = \"a\"\nlabel = \"b\"\n\
                    labels = { kind = \"regression\" }\nmetrics = [\"pearson\"]\n\
                    [splits]\ntrain = \"t.tsv\"\ndev = \"d.tsv\"\n";
        std::fs::write(&file, spec).unwrap();
        let run = RunSettings {
            task: file.display().to_string(),
            ..RunSettings::default()
        };
        assert_eq!(run.paths().dir, Path::new("runs/my-nli/default"));
        let unreadable = RunSettings {
            task: "tasks/missing-task.toml".into(),
            ..RunSettings::default()
        };
        assert_eq!(unreadable.task_name(), "missing-task");
        let builtin = RunSettings {
            task: "RTE".into(),
            ..RunSettings::default()
        };
        assert_eq!(builtin.task_name(), "rte");
    }
}
