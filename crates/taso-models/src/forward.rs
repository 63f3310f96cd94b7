//! The library side of `taso-forward`: reading `{"text", "pair"}` lines and turning them into one
//! padded batch with the model's own tokenizer.

use crate::error::{ModelError, Result};
use serde::Deserialize;
use std::path::Path;
use taso_data::{pad_batch, Example, PaddedBatch, TextTokenizer};

/// One line of a forward input file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputLine {
    text: String,
    #[serde(default)]
    pair: Option<String>,
}

/// Reads a jsonl file whose lines are `{"text": ..., "pair": ...}` (`pair` optional).
/// Blank lines are skipped; a malformed line is an error naming file and line.
pub fn read_text_jsonl(path: &Path) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut examples = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let parsed: InputLine = serde_json::from_str(line).map_err(|e| ModelError::Input {
            path: path.to_path_buf(),
            line: index + 1,
            reason: format!(
                "{e}; expected {{\"text\": \"...\", \"pair\": \"...\"}} with `pair` optional"
            ),
        })?;
        examples.push(Example {
            text: parsed.text,
            pair: parsed.pair,
            label: None,
        });
    }
    if examples.is_empty() {
        return Err(ModelError::Input {
            path: path.to_path_buf(),
            line: 0,
            reason: "the file has no input lines".to_string(),
        });
    }
    Ok(examples)
}

/// Tokenizes `examples` with `tokenizer` and pads them, in order, into one batch.
pub fn encode_as_one_batch(tokenizer: &TextTokenizer, examples: &[Example]) -> Result<PaddedBatch> {
    let encodings = tokenizer.encode(examples)?;
    let labels: Vec<_> = examples.iter().map(|e| e.label).collect();
    let indices: Vec<usize> = (0..examples.len()).collect();
    Ok(pad_batch(&encodings, &labels, &indices, tokenizer.pad_id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_texts_and_optional_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(
            &path,
            "{\"text\": \"a\"}\n\n{\"text\": \"b\", \"pair\": \"c\"}\n",
        )
        .unwrap();
        let examples = read_text_jsonl(&path).unwrap();
        assert_eq!(examples.len(), 2);
        assert_eq!(examples[1].pair.as_deref(), Some("c"));
    }

    #[test]
    fn malformed_and_empty_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n").unwrap();
        let err = read_text_jsonl(&path).unwrap_err().to_string();
        assert!(err.contains("in.jsonl:2") && err.contains("txt"), "{err}");
        std::fs::write(&path, "\n").unwrap();
        let err = read_text_jsonl(&path).unwrap_err().to_string();
        assert!(err.contains("no input lines"), "{err}");
    }
}
