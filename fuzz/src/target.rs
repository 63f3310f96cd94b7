//! The fuzz targets: each family of readers that takes files from users, and one input run
//! through all the readers of its family.

use std::io;
use std::path::{Path, PathBuf};

use taso_artifact::{Artifact, ArtifactKind, Expect, Importance, Regions, SafetensorsFile};
use taso_data::{load_any_task_file, AnyTask, Split, TaskSpec};
use taso_gguf::{dequantize, import_gguf, GgufFile};

/// A family of readers of untrusted files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Safetensors files and taso artifacts: the header, every tensor, and the importance and
    /// regions parsers on top.
    Safetensors,
    /// GGUF files: the reader, every tensor's bytes dequantised, and the whole import.
    Gguf,
    /// Task TOML files, and reading the train split of a task that loads.
    TaskToml,
    /// TSV split files, under a header-named, a headerless, a regression and a prompt task.
    Tsv,
    /// JSONL split files, under a classification task and prompt tasks with candidate and
    /// free-text answers.
    Jsonl,
}

impl Target {
    /// Every target, in the order campaigns run them.
    pub const ALL: [Target; 5] = [
        Target::Safetensors,
        Target::Gguf,
        Target::TaskToml,
        Target::Tsv,
        Target::Jsonl,
    ];

    /// The name on the command line and of the corpus folder.
    pub fn name(self) -> &'static str {
        match self {
            Target::Safetensors => "safetensors",
            Target::Gguf => "gguf",
            Target::TaskToml => "task-toml",
            Target::Tsv => "tsv",
            Target::Jsonl => "jsonl",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The file name an input is written to (readers look at extensions).
    fn case_file(self) -> &'static str {
        match self {
            Target::Safetensors => "case.safetensors",
            Target::Gguf => "case.gguf",
            Target::TaskToml => "case.toml",
            Target::Tsv => "case.tsv",
            Target::Jsonl => "case.jsonl",
        }
    }
}

/// Task specs whose train split is the input file `case.tsv`; each TSV one is also read as CSV
/// (see [`Scratch::new`]), and the last reads the input as Parquet.
const TSV_TASKS: [&str; 5] = [
    r#"name = "named"
format = "tsv"
text = "sentence1"
pair = "sentence2"
label = "label"
labels = { kind = "classes", names = ["entailment", "not_entailment"] }
metrics = ["accuracy"]
[splits]
train = "case.tsv"
"#,
    r#"name = "headerless"
format = "tsv"
header = false
text = 3
label = 1
labels = { kind = "classes", names = ["0", "1"] }
metrics = ["matthews"]
[splits]
train = "case.tsv"
"#,
    r#"name = "regression"
format = "tsv"
text = "sentence1"
pair = "sentence2"
label = "score"
labels = { kind = "regression" }
metrics = ["pearson", "spearman"]
[splits]
train = "case.tsv"
"#,
    r#"name = "prompt"
kind = "prompt"
format = "tsv"
template = "{sentence1}\nQuestion: {2}?\nAnswer:"
answer = { kind = "candidates", field = "label", candidates = [{ value = "entailment", text = "yes" }, { value = "not_entailment", text = "no" }] }
metrics = ["accuracy"]
[splits]
train = "case.tsv"
"#,
    r#"name = "parquet"
format = "parquet"
text = "sentence1"
label = "label"
labels = { kind = "classes", names = ["entailment", "not_entailment"] }
metrics = ["accuracy"]
[splits]
train = "case.tsv"
"#,
];

/// Task specs whose train split is the input file `case.jsonl`.
const JSONL_TASKS: [&str; 3] = [
    r#"name = "classes"
format = "jsonl"
text = "premise"
pair = "hypothesis"
label = "label"
labels = { kind = "classes", names = ["entailment", "not_entailment"] }
metrics = ["accuracy"]
[splits]
train = "case.jsonl"
"#,
    r#"name = "candidates"
kind = "prompt"
template = "{passage}\nQuestion: {question}?\nAnswer:"
answer = { kind = "candidates", field = "label", candidates = [{ value = "true", text = "yes" }, { value = "false", text = "no" }] }
metrics = ["accuracy"]
[splits]
train = "case.jsonl"
"#,
    r#"name = "generation"
kind = "prompt"
template = "Question: {question}\nAnswer:"
answer = { kind = "free", field = "answer" }
metrics = ["exact_match"]
[splits]
train = "case.jsonl"
"#,
];

/// Valid split files that task TOML inputs may name (as the built-in RTE and BoolQ do).
const DATA_FILES: [(&str, &str); 2] = [
    (
        "glue/RTE/train.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tA cat sat.\tAn animal sat.\tentailment\n",
    ),
    (
        "superglue/BoolQ/train.jsonl",
        "{\"question\": \"is it\", \"passage\": \"It is.\", \"label\": true}\n",
    ),
];

/// A private folder where inputs are written and read back, with the task specs and data files
/// the targets need; removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
    tsv_tasks: Vec<AnyTask>,
    jsonl_tasks: Vec<AnyTask>,
}

impl Scratch {
    /// Makes the folder (in memory, under `/dev/shm`, where there is one: inputs are written
    /// thousands of times a second) and loads the fixed task specs.
    pub fn new() -> io::Result<Scratch> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("taso-fuzz-");
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            builder.tempdir_in(shm)?
        } else {
            builder.tempdir()?
        };
        for (path, text) in DATA_FILES {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap())?;
            std::fs::write(path, text)?;
        }
        let spec_file = |index: usize, text: &str| -> io::Result<PathBuf> {
            let path = dir.path().join(format!("task-{index}.toml"));
            std::fs::write(&path, text)?;
            Ok(path)
        };
        const TSV: &str = "format = \"tsv\"";
        let texts: Vec<String> = TSV_TASKS
            .iter()
            .flat_map(|text| {
                let as_csv = text
                    .contains(TSV)
                    .then(|| text.replace(TSV, "format = \"csv\""));
                std::iter::once(text.to_string()).chain(as_csv)
            })
            .collect();
        let mut tsv_tasks = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            let path = spec_file(index, text)?;
            tsv_tasks.push(load_any_task_file(&path).map_err(io::Error::other)?);
        }
        let mut jsonl_tasks = Vec::new();
        for (index, text) in JSONL_TASKS.iter().enumerate() {
            let path = spec_file(texts.len() + index, text)?;
            jsonl_tasks.push(load_any_task_file(&path).map_err(io::Error::other)?);
        }
        Ok(Scratch {
            dir,
            tsv_tasks,
            jsonl_tasks,
        })
    }

    /// Writes `input` to the target's file and runs it through every reader of the target.
    /// Errors are the readers' business (a refusal is a right answer); only a panic, an abort
    /// or a hang escapes.
    pub fn run(&self, target: Target, input: &[u8]) -> io::Result<()> {
        let path = self.dir.path().join(target.case_file());
        std::fs::write(&path, input)?;
        match target {
            Target::Safetensors => read_safetensors(&path),
            Target::Gguf => self.read_gguf(&path),
            Target::TaskToml => self.read_task_toml(&path),
            Target::Tsv => self.tsv_tasks.iter().for_each(|task| self.read_any(task)),
            Target::Jsonl => self.jsonl_tasks.iter().for_each(|task| self.read_any(task)),
        }
        Ok(())
    }

    fn read_gguf(&self, path: &Path) {
        if let Ok(gguf) = GgufFile::open(path) {
            for tensor in &gguf.tensors {
                if let (Ok(ty), Ok(bytes)) = (tensor.ggml_type(), gguf.tensor_bytes(tensor)) {
                    dequantize(ty, &bytes);
                }
            }
            let _ = import_gguf(path, &self.dir.path().join("imported"), true);
        }
    }

    fn read_task_toml(&self, path: &Path) {
        if let Ok(task) = load_any_task_file(path) {
            self.read_any(&task);
        }
    }

    fn read_any(&self, task: &AnyTask) {
        match task {
            AnyTask::Classification(spec) => self.read(spec),
            AnyTask::Prompt(spec) => {
                let _ = spec.read_split(self.dir.path(), Split::Train);
            }
        }
    }

    fn read(&self, task: &TaskSpec) {
        let _ = task.read_split(self.dir.path(), Split::Train);
    }
}

/// Reads the file as plain safetensors (every tensor) and as a taso artifact of each kind.
fn read_safetensors(path: &Path) {
    if let Ok(file) = SafetensorsFile::open(path) {
        for name in file.tensor_names() {
            let _ = file.tensor(name).and_then(|t| t.to_f32_vec());
        }
    }
    let Ok(artifact) = Artifact::open_any(path) else {
        return;
    };
    for name in artifact.tensor_names() {
        let _ = artifact.tensor(name);
    }
    if let Ok(importance) = Importance::from_artifact(&artifact) {
        for matrix in &importance.matrices {
            let _ = matrix.scores_f32();
        }
    }
    let _ = Regions::from_artifact(&artifact);
    for kind in ArtifactKind::ALL {
        let expect = Expect::kind(kind)
            .task("rte")
            .model("sha256:model")
            .parent("sha256:parent");
        let _ = Artifact::open(path, &expect);
    }
}
