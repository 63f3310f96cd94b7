//! The tokenizer of a Hugging Face model folder (`tokenizer.json`, `tokenizer_config.json`,
//! `chat_template.jinja`) as GGUF `tokenizer.*` metadata, read as llama.cpp's converter reads
//! it:
//!
//! - only byte-level BPE: model `BPE`, decoder `ByteLevel`, and a pre-tokenizer
//!   [`PreTokenizerKind::from_hf_json`] recognises;
//! - tokens in id order up to the model's `vocab_size`, added tokens included: special ones are
//!   control tokens (3), others user-defined (4), ids no token has `[PAD<id>]` (unused, 5);
//! - special ids from the `*_token` strings of `tokenizer_config.json`, else the `*_token_id`
//!   integers of `config.json`;
//! - `add_bos_token`/`add_eos_token` from `tokenizer_config.json`, else from whether the
//!   post-processor's template starts with BOS or ends with EOS;
//! - the chat template from `tokenizer_config.json`, else `chat_template.jinja`.

use std::fs;
use std::io;
use std::path::Path;

use serde_json::Value;

use crate::config::SpecialIds;
use crate::error::GgufError;
use crate::metadata::MetadataValue;
use crate::model_files::read_json;
use crate::tokenizer::{PreTokenizerKind, Vocabulary, CONTROL, NORMAL, UNUSED, USER_DEFINED};

/// What every refusal of a tokenizer ends with.
const BYTE_LEVEL_ONLY: &str =
    "only byte-level BPE tokenizers (as SmolLM2, Qwen2 and Llama 3 use) can be written as GGUF";

/// One entry of `added_tokens`.
struct AddedToken {
    id: u64,
    content: String,
    special: bool,
}

/// A model folder's tokenizer, ready to be written as GGUF metadata.
pub(crate) struct HfTokenizer {
    /// Tokens, types, merges, pre-tokenizer and `add_bos`.
    vocabulary: Vocabulary,
    /// Special token ids.
    pub special: SpecialIds,
    add_eos: bool,
    /// Chat templates by name; `default` is `tokenizer.chat_template`.
    chat_templates: Vec<(String, String)>,
}

impl HfTokenizer {
    /// Reads the tokenizer files of `model_dir` for a model of `vocab_size` embedding rows whose
    /// `config.json` is `config`.
    pub fn read(model_dir: &Path, config: &Value, vocab_size: u64) -> Result<Self, GgufError> {
        let tokenizer_path = model_dir.join("tokenizer.json");
        let tokenizer = read_json(&tokenizer_path)?;
        let config_path = model_dir.join("tokenizer_config.json");
        let tokenizer_config = read_json(&config_path)?;
        let invalid = |reason: String| GgufError::InvalidModelFile {
            path: tokenizer_path.clone(),
            reason,
        };
        let pre_tokenizer = byte_level_pre_tokenizer(&tokenizer).map_err(invalid)?;
        let added = added_tokens(&tokenizer["added_tokens"]).map_err(invalid)?;
        let (tokens, token_types) =
            tokens_by_id(&tokenizer["model"]["vocab"], &added, vocab_size).map_err(invalid)?;
        let merges = merges(&tokenizer["model"]["merges"]).map_err(invalid)?;
        let special = special_ids(&tokenizer_config, config, &added, &tokens);
        let token = |id: Option<u64>| id.map(|id| tokens[id as usize].as_str());
        let (add_bos, add_eos) = template_ends(
            &tokenizer["post_processor"],
            token(special.bos),
            token(special.eos),
        );
        let flag = |key: &str, default| tokenizer_config[key].as_bool().unwrap_or(default);
        Ok(HfTokenizer {
            vocabulary: Vocabulary {
                add_bos: flag("add_bos_token", add_bos),
                tokens,
                merges,
                token_types,
                pre_tokenizer,
            },
            special,
            add_eos: flag("add_eos_token", add_eos),
            chat_templates: chat_templates(&tokenizer_config, model_dir, &config_path)?,
        })
    }

    /// The `tokenizer.*` metadata.
    pub fn to_metadata(&self) -> Vec<(String, MetadataValue)> {
        let mut entries = self.vocabulary.to_metadata();
        let ids = [
            ("bos", self.special.bos),
            ("eos", self.special.eos),
            ("unknown", self.special.unk),
            ("padding", self.special.pad),
        ];
        for (name, id) in ids {
            if let Some(id) = id {
                let key = format!("tokenizer.ggml.{name}_token_id");
                entries.push((key, MetadataValue::U32(id as u32)));
            }
        }
        entries.push((
            "tokenizer.ggml.add_eos_token".to_string(),
            MetadataValue::Bool(self.add_eos),
        ));
        entries.extend(chat_template_metadata(&self.chat_templates));
        entries
    }
}

/// `tokenizer.chat_template` for the `default` template, `tokenizer.chat_template.<name>` for
/// the others and their names in `tokenizer.chat_templates`, as llama.cpp's converter writes
/// them.
fn chat_template_metadata(templates: &[(String, String)]) -> Vec<(String, MetadataValue)> {
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for (name, template) in templates {
        let key = match name.as_str() {
            "default" => "tokenizer.chat_template".to_string(),
            _ => {
                names.push(MetadataValue::String(name.clone()));
                format!("tokenizer.chat_template.{name}")
            }
        };
        entries.push((key, MetadataValue::String(template.clone())));
    }
    if !names.is_empty() {
        entries.push((
            "tokenizer.chat_templates".to_string(),
            MetadataValue::Array(names),
        ));
    }
    entries
}

/// The pre-tokenizer of a byte-level BPE `tokenizer.json`, or why it is not one.
fn byte_level_pre_tokenizer(tokenizer: &Value) -> Result<PreTokenizerKind, String> {
    let describe = |value: &Value| match value["type"].as_str() {
        Some(kind) => format!("'{kind}'"),
        None => "absent".to_string(),
    };
    if tokenizer["model"]["type"] != "BPE" {
        return Err(format!(
            "its model is {}, not BPE; {BYTE_LEVEL_ONLY}",
            describe(&tokenizer["model"])
        ));
    }
    if tokenizer["decoder"]["type"] != "ByteLevel" {
        return Err(format!(
            "its decoder is {}, not ByteLevel, so it is not a byte-level BPE; {BYTE_LEVEL_ONLY}",
            describe(&tokenizer["decoder"])
        ));
    }
    PreTokenizerKind::from_hf_json(&tokenizer["pre_tokenizer"]).ok_or_else(|| {
        format!(
            "its pre-tokenizer is not one llama.cpp knows by name here (SmolLM2's digits then \
             byte-level, Qwen2's or Llama 3's split expression then byte-level); \
             {BYTE_LEVEL_ONLY} with one of those"
        )
    })
}

/// The `added_tokens` list.
fn added_tokens(list: &Value) -> Result<Vec<AddedToken>, String> {
    let Some(entries) = list.as_array() else {
        return Ok(Vec::new());
    };
    entries
        .iter()
        .map(
            |entry| match (entry["id"].as_u64(), entry["content"].as_str()) {
                (Some(id), Some(content)) => Ok(AddedToken {
                    id,
                    content: content.to_string(),
                    special: entry["special"] == true,
                }),
                _ => Err(format!(
                    "added token {entry} has no integer 'id' or string 'content'"
                )),
            },
        )
        .collect()
}

/// The token strings and types by id, `vocab_size` of them: the BPE vocabulary, then the
/// added tokens over it, `[PAD<id>]` where neither has the id.
fn tokens_by_id(
    vocab: &Value,
    added: &[AddedToken],
    vocab_size: u64,
) -> Result<(Vec<String>, Vec<i64>), String> {
    let vocab = vocab.as_object().ok_or("its model has no 'vocab' object")?;
    let mut tokens: Vec<Option<String>> = vec![None; vocab_size as usize];
    let mut types = vec![UNUSED; vocab_size as usize];
    let mut place = |id: u64, token: &str, ty: i64| -> Result<(), String> {
        let slot = tokens.get_mut(id as usize).ok_or_else(|| {
            format!(
                "token {token:?} has id {id}, beyond the vocab_size {vocab_size} of config.json"
            )
        })?;
        match slot {
            Some(other) if other != token => {
                Err(format!("id {id} is both {other:?} and {token:?}"))
            }
            _ => {
                *slot = Some(token.to_string());
                types[id as usize] = ty;
                Ok(())
            }
        }
    };
    for (token, id) in vocab {
        let id = id
            .as_u64()
            .ok_or_else(|| format!("token {token:?} has no integer id"))?;
        place(id, token, NORMAL)?;
    }
    for token in added {
        let ty = if token.special { CONTROL } else { USER_DEFINED };
        place(token.id, &token.content, ty)?;
    }
    let tokens = tokens
        .into_iter()
        .enumerate()
        .map(|(id, token)| token.unwrap_or_else(|| format!("[PAD{id}]")))
        .collect();
    Ok((tokens, types))
}

/// The merges, from `"a b"` strings or `["a", "b"]` pairs.
fn merges(merges: &Value) -> Result<Vec<(String, String)>, String> {
    let list = merges.as_array().ok_or("its model has no 'merges' list")?;
    list.iter()
        .map(|merge| {
            let pair = match merge {
                Value::String(text) => text.split_once(' '),
                Value::Array(pair) => match pair.as_slice() {
                    [Value::String(a), Value::String(b)] => Some((a.as_str(), b.as_str())),
                    _ => None,
                },
                _ => None,
            };
            match pair {
                Some((a, b)) if !a.contains(' ') && !b.contains(' ') => {
                    Ok((a.to_string(), b.to_string()))
                }
                _ => Err(format!(
                    "merge {merge} is not two tokens without spaces; {BYTE_LEVEL_ONLY}"
                )),
            }
        })
        .collect()
}

/// Special ids: the `<name>_token` of `tokenizer_config.json` (a string or `{"content": ...}`)
/// looked up among the added tokens, then the vocabulary; else `<name>_token_id` of
/// `config.json` when it is an id of the vocabulary.
fn special_ids(
    tokenizer_config: &Value,
    config: &Value,
    added: &[AddedToken],
    tokens: &[String],
) -> SpecialIds {
    let id = |name: &str| {
        let entry = &tokenizer_config[format!("{name}_token")];
        let content = entry.as_str().or_else(|| entry["content"].as_str());
        let by_content = content.and_then(|content| {
            added
                .iter()
                .find(|token| token.content == content)
                .map(|token| token.id)
                .or_else(|| tokens.iter().position(|t| t == content).map(|i| i as u64))
        });
        by_content.or_else(|| {
            config[format!("{name}_token_id")]
                .as_u64()
                .filter(|&id| id < tokens.len() as u64)
        })
    };
    SpecialIds {
        bos: id("bos"),
        eos: id("eos"),
        pad: id("pad"),
        unk: id("unk"),
    }
}

/// Whether the post-processor's `TemplateProcessing` (alone or in a sequence) puts `bos`
/// first and `eos` last in a single sequence, as llama.cpp's converter reads it.
fn template_ends(post_processor: &Value, bos: Option<&str>, eos: Option<&str>) -> (bool, bool) {
    let processors = match post_processor["processors"].as_array() {
        Some(list) => list.as_slice(),
        None => std::slice::from_ref(post_processor),
    };
    let Some(template) = processors
        .iter()
        .find(|p| p["type"] == "TemplateProcessing")
    else {
        return (false, false);
    };
    let single = template["single"].as_array().map_or(&[][..], Vec::as_slice);
    if single.len() < 2 {
        return (false, false);
    }
    let is = |item: &Value, token: Option<&str>| {
        let special = item["SpecialToken"]["id"].as_str();
        special.is_some() && special == token
    };
    (is(&single[0], bos), is(&single[single.len() - 1], eos))
}

/// The chat templates by name: `chat_template` of `tokenizer_config.json` (a string, or a list
/// of `{"name", "template"}` whose names keep only ASCII letters, digits and `_`), else
/// `chat_template.jinja` beside it.
fn chat_templates(
    tokenizer_config: &Value,
    model_dir: &Path,
    config_path: &Path,
) -> Result<Vec<(String, String)>, GgufError> {
    match &tokenizer_config["chat_template"] {
        Value::String(template) => Ok(vec![("default".to_string(), template.clone())]),
        Value::Array(choices) => Ok(choices
            .iter()
            .filter_map(|choice| {
                let name: String = choice["name"]
                    .as_str()?
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                let template = choice["template"].as_str()?;
                (!name.is_empty()).then(|| (name, template.to_string()))
            })
            .collect()),
        Value::Null => {
            let path = model_dir.join("chat_template.jinja");
            match fs::read_to_string(&path) {
                Ok(template) => Ok(vec![("default".to_string(), template)]),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(GgufError::io(path, e)),
            }
        }
        _ => Err(GgufError::InvalidModelFile {
            path: config_path.to_path_buf(),
            reason: "its 'chat_template' is neither a string nor a list of named templates"
                .to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn template_ends_read_bos_first_and_eos_last() {
        let template = json!({"type": "TemplateProcessing", "single": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
        ]});
        assert_eq!(
            template_ends(&template, Some("<s>"), Some("</s>")),
            (true, false)
        );
        let sequence = json!({"type": "Sequence", "processors": [{"type": "ByteLevel"}, template]});
        assert_eq!(template_ends(&sequence, Some("<s>"), None), (true, false));
        assert_eq!(
            template_ends(&json!({"type": "ByteLevel"}), Some("<s>"), None),
            (false, false)
        );
    }

    #[test]
    fn tokens_fill_gaps_with_unused_pads_and_refuse_conflicts() {
        let vocab = json!({"a": 0, "b": 2});
        let added = [AddedToken {
            id: 3,
            content: "<x>".to_string(),
            special: true,
        }];
        let (tokens, types) = tokens_by_id(&vocab, &added, 5).unwrap();
        assert_eq!(tokens, ["a", "[PAD1]", "b", "<x>", "[PAD4]"]);
        assert_eq!(types, [NORMAL, UNUSED, NORMAL, CONTROL, UNUSED]);
        let err = tokens_by_id(&vocab, &added, 3).unwrap_err();
        assert!(err.contains("beyond the vocab_size 3"), "{err}");
        let clash = [AddedToken {
            id: 0,
            content: "<y>".to_string(),
            special: false,
        }];
        assert!(tokens_by_id(&vocab, &clash, 5)
            .unwrap_err()
            .contains("both"));
    }

    #[test]
    fn named_chat_templates_are_listed_beside_the_default() {
        let templates = [("default", "A"), ("tool_use", "B")]
            .map(|(name, template)| (name.to_string(), template.to_string()));
        let keys: Vec<String> = chat_template_metadata(&templates)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(
            keys,
            [
                "tokenizer.chat_template",
                "tokenizer.chat_template.tool_use",
                "tokenizer.chat_templates"
            ]
        );
    }

    #[test]
    fn merges_come_from_strings_or_pairs() {
        let list = json!(["Ġ t", ["h", "e"]]);
        let expected = [("Ġ", "t"), ("h", "e")].map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(merges(&list).unwrap(), expected);
        assert!(merges(&json!([["a b", "c"]])).is_err());
    }

    #[test]
    fn non_byte_level_tokenizers_are_refused_in_one_line() {
        let unigram = json!({"model": {"type": "Unigram"}});
        let err = byte_level_pre_tokenizer(&unigram).unwrap_err();
        assert!(
            err.contains("'Unigram', not BPE") && !err.contains('\n'),
            "{err}"
        );
        let metaspace = json!({"model": {"type": "BPE"}, "decoder": {"type": "Sequence"}});
        let err = byte_level_pre_tokenizer(&metaspace).unwrap_err();
        assert!(err.contains("not ByteLevel"), "{err}");
    }
}
