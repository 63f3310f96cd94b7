//! End-to-end imports of tiny GGUF files written by `taso_gguf::testing`: the round trip of
//! weights, config and tokenizer, and every refusal leaving no output folder behind.

use std::fs;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use serde_json::Value;
use taso_gguf::testing::{write_tiny_model, TinyGguf, TinyModel};
use taso_gguf::{import_gguf, GgufError, GgufFile, GgufWriter, MetadataValue, RawTensor};
use tokenizers::Tokenizer;

struct Fixture {
    dir: tempfile::TempDir,
    gguf: PathBuf,
    tiny: TinyGguf,
}

impl Fixture {
    fn new(model: &TinyModel) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let gguf = dir.path().join("tiny.gguf");
        let tiny = write_tiny_model(&gguf, model).unwrap();
        Fixture { dir, gguf, tiny }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Rewrites the GGUF file after `change` alters its writer.
    fn rewrite(&mut self, change: impl FnOnce(&mut GgufWriter)) {
        change(&mut self.tiny.writer);
        self.tiny.writer.write(&self.gguf).unwrap();
    }

    /// Imports, expecting an error, and checks that nothing but the GGUF file is left.
    fn refused(&self) -> GgufError {
        let err = import_gguf(&self.gguf, &self.out(), false).unwrap_err();
        assert_eq!(
            folder_entries(self.dir.path()),
            ["tiny.gguf"],
            "after: {err}"
        );
        err
    }
}

fn folder_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Imports and checks every tensor's name, shape and values against the expected ones.
fn assert_round_trip(model: &TinyModel) -> Fixture {
    let fixture = Fixture::new(model);
    let summary = import_gguf(&fixture.gguf, &fixture.out(), false).unwrap();
    assert_eq!(summary.tensor_count, fixture.tiny.expected.len());
    let bytes = fs::read(fixture.out().join("model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    names.sort();
    let expected_names: Vec<&String> = fixture.tiny.expected.keys().collect();
    assert_eq!(names.iter().collect::<Vec<_>>(), expected_names);
    for (name, (shape, values)) in &fixture.tiny.expected {
        let view = file.tensor(name).unwrap();
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
        assert_eq!(view.shape(), shape.as_slice(), "{name}");
        let got: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert!(got == *values, "{name}: values differ");
    }
    fixture
}

#[test]
fn tied_llama_v3_round_trips_weights_and_config() {
    let fixture = assert_round_trip(&TinyModel::default());
    let config = read_json(&fixture.out().join("config.json"));
    assert_eq!(config["architectures"][0], "LlamaForCausalLM");
    assert_eq!(config["model_type"], "llama");
    for (key, value) in [
        ("vocab_size", 264),
        ("hidden_size", 64),
        ("intermediate_size", 256),
        ("num_hidden_layers", 2),
        ("num_attention_heads", 4),
        ("num_key_value_heads", 2),
        ("head_dim", 16),
        ("max_position_embeddings", 128),
        ("bos_token_id", 1),
        ("eos_token_id", 2),
        ("pad_token_id", 2),
    ] {
        assert_eq!(config[key], value, "{key}");
    }
    assert_eq!(config["rms_norm_eps"], 1e-5);
    assert_eq!(config["rope_theta"], 10_000.0);
    assert_eq!(config["tie_word_embeddings"], true);
    assert_eq!(config["torch_dtype"], "float32");
    let generation = read_json(&fixture.out().join("generation_config.json"));
    assert_eq!(
        (
            generation["bos_token_id"].clone(),
            generation["eos_token_id"].clone()
        ),
        (1.into(), 2.into())
    );
    let provenance = read_json(&fixture.out().join("taso-import.json"));
    assert_eq!(provenance["source_file"], "tiny.gguf");
    let digest = taso_artifact::file_digest(&fixture.gguf).unwrap();
    assert_eq!(
        format!("sha256:{}", provenance["source_sha256"].as_str().unwrap()),
        digest
    );
}

#[test]
fn untied_llama_v2_with_alignment_64_round_trips() {
    let fixture = assert_round_trip(&TinyModel {
        tied: false,
        version: 2,
        alignment: Some(64),
        ..TinyModel::default()
    });
    assert!(fixture.tiny.expected.contains_key("lm_head.weight"));
    let config = read_json(&fixture.out().join("config.json"));
    assert_eq!(config["tie_word_embeddings"], false);
}

#[test]
fn qwen2_round_trips_biases_without_unpermuting() {
    let fixture = assert_round_trip(&TinyModel {
        architecture: "qwen2",
        ..TinyModel::default()
    });
    assert!(fixture
        .tiny
        .expected
        .contains_key("model.layers.1.self_attn.k_proj.bias"));
    let config = read_json(&fixture.out().join("config.json"));
    assert_eq!(config["architectures"][0], "Qwen2ForCausalLM");
    assert_eq!(config["model_type"], "qwen2");
    assert_eq!(config["attention_bias"], true);
}

#[test]
fn tokenizer_splits_digits_keeps_specials_and_round_trips() {
    let fixture = Fixture::new(&TinyModel::default());
    import_gguf(&fixture.gguf, &fixture.out(), false).unwrap();
    let tokenizer = Tokenizer::from_file(fixture.out().join("tokenizer.json")).unwrap();
    let tokens = &fixture.tiny.tokens;
    let id = |token: &str| tokens.iter().position(|t| t == token).unwrap() as u32;

    let text = "<|im_start|>the the 123<|im_end|>";
    let encoding = tokenizer.encode(text, false).unwrap();
    let expected = [
        "<|im_start|>",
        "t",
        "he",
        "Ġthe",
        "Ġ",
        "1",
        "2",
        "3",
        "<|im_end|>",
    ];
    assert_eq!(encoding.get_tokens(), expected);
    assert_eq!(encoding.get_ids(), expected.map(id));
    assert_eq!(tokenizer.decode(encoding.get_ids(), false).unwrap(), text);
    assert_eq!(
        tokenizer.decode(encoding.get_ids(), true).unwrap(),
        "the the 123"
    );
    // Punctuation is split from the letters after it: the `! he` merge cannot apply.
    assert_eq!(
        tokenizer.encode("!he", false).unwrap().get_tokens(),
        ["!", "he"]
    );
    for text in ["héllo wörld\n\ttabs", "12 + 1212 = 1224", "  two spaces"] {
        let ids = tokenizer.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(tokenizer.decode(&ids, false).unwrap(), text);
    }

    let config = read_json(&fixture.out().join("tokenizer_config.json"));
    assert_eq!(config["bos_token"], "<|im_start|>");
    assert_eq!(config["eos_token"], "<|im_end|>");
    assert_eq!(config["pad_token"], "<|im_end|>");
    assert_eq!(config["unk_token"], "<|endoftext|>");
    assert_eq!(
        config["chat_template"],
        taso_gguf::testing::tiny::CHAT_TEMPLATE
    );
}

#[test]
fn qwen2_tokenizer_splits_with_the_qwen2_expression() {
    let fixture = Fixture::new(&TinyModel {
        architecture: "qwen2",
        ..TinyModel::default()
    });
    import_gguf(&fixture.gguf, &fixture.out(), false).unwrap();
    let tokenizer = Tokenizer::from_file(fixture.out().join("tokenizer.json")).unwrap();
    let encoding = tokenizer.encode("!he the 12", false).unwrap();
    assert_eq!(encoding.get_tokens(), ["!he", "Ġthe", "Ġ", "1", "2"]);
    assert_eq!(
        tokenizer.decode(encoding.get_ids(), false).unwrap(),
        "!he the 12"
    );
}

#[test]
fn reader_keeps_every_metadata_value_type_and_nested_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.gguf");
    use MetadataValue::*;
    let values = [
        U8(200),
        I8(-5),
        U16(60_000),
        I16(-300),
        U32(4_000_000_000),
        I32(-70_000),
        F32(0.25),
        Bool(true),
        String("ünïcode".to_string()),
        Array(vec![
            Array(vec![U8(1), U8(2)]),
            Array(vec![]),
            Array(vec![U8(3)]),
        ]),
        U64(1 << 40),
        I64(-(1 << 40)),
        F64(-1.5e300),
    ];
    let mut writer = GgufWriter::default();
    for (i, value) in values.iter().enumerate() {
        writer.metadata(&format!("key.{i}"), value.clone());
    }
    writer
        .metadata("general.alignment", U32(16))
        .tensor(RawTensor {
            name: "t".to_string(),
            dims: vec![2, 3],
            type_id: 0,
            bytes: (0..6).flat_map(|v| (v as f32).to_le_bytes()).collect(),
        });
    writer.write(&path).unwrap();
    let gguf = GgufFile::open(&path).unwrap();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(
            gguf.metadata.get(&format!("key.{i}")),
            Some(value),
            "key.{i}"
        );
    }
    let tensor = &gguf.tensors[0];
    assert_eq!(tensor.row_major_shape(), [3, 2]);
    assert_eq!(gguf.tensor_bytes(tensor).unwrap().len(), 24);
}

#[test]
fn bad_magic_is_refused() {
    let fixture = Fixture::new(&TinyModel::default());
    fs::write(&fixture.gguf, b"GGML\x03\x00\x00\x00 and more").unwrap();
    let err = fixture.refused();
    assert!(matches!(err, GgufError::BadMagic { .. }), "{err}");
    assert!(err.to_string().contains("starts with \"GGML\""), "{err}");
}

#[test]
fn unsupported_version_is_refused() {
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| w.version = 1);
    let err = fixture.refused();
    assert!(
        matches!(err, GgufError::UnsupportedVersion { version: 1, .. }),
        "{err}"
    );
}

#[test]
fn truncated_files_are_refused_in_the_header_and_in_the_data() {
    let fixture = Fixture::new(&TinyModel::default());
    let bytes = fixture.tiny.writer.to_bytes();
    for cut in [100, bytes.len() - 10] {
        fs::write(&fixture.gguf, &bytes[..cut]).unwrap();
        let err = fixture.refused();
        assert!(
            matches!(err, GgufError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn unsupported_tensor_type_is_refused_naming_tensor_and_type() {
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| {
        let ffn_up = w
            .tensors_mut()
            .iter_mut()
            .find(|t| t.name == "blk.1.ffn_up.weight")
            .unwrap();
        ffn_up.type_id = 6; // Q5_0
    });
    let err = fixture.refused();
    let message = err.to_string();
    assert!(
        matches!(err, GgufError::UnsupportedTensorType { .. }),
        "{message}"
    );
    assert!(
        message.contains("'blk.1.ffn_up.weight'") && message.contains("Q5_0"),
        "{message}"
    );
}

#[test]
fn unsupported_architecture_is_refused_naming_it() {
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| {
        w.metadata(
            "general.architecture",
            MetadataValue::String("mamba".into()),
        );
    });
    let err = fixture.refused();
    assert!(
        matches!(err, GgufError::UnsupportedArchitecture { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("'mamba'"), "{err}");
}

#[test]
fn missing_key_and_missing_tensor_are_refused_naming_them() {
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| {
        w.remove_metadata("llama.block_count");
    });
    let err = fixture.refused();
    assert!(err.to_string().contains("'llama.block_count'"), "{err}");

    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| w.tensors_mut().retain(|t| t.name != "blk.1.attn_v.weight"));
    let err = fixture.refused();
    assert!(matches!(err, GgufError::MissingTensor { .. }), "{err}");
    assert!(err.to_string().contains("'blk.1.attn_v.weight'"), "{err}");
}

#[test]
fn a_block_count_beyond_the_files_tensors_is_refused_at_the_first_missing_layer() {
    // Found by fuzzing: the required names were listed for every declared layer first, so a
    // block count of 2^62 grew a list until memory ran out.
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| {
        w.metadata("llama.block_count", MetadataValue::U64(1 << 62));
    });
    let err = fixture.refused();
    assert!(matches!(err, GgufError::MissingTensor { .. }), "{err}");
    assert!(
        err.to_string().contains("'blk.2.attn_norm.weight'"),
        "{err}"
    );
}

#[test]
fn dimensions_whose_size_overflows_64_bits_are_refused() {
    // Found by fuzzing: the byte length was multiplied out unchecked, so 2^62 f32 elements of 4
    // bytes wrapped to 0 (a panic with overflow checks, a wrong bound without).
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| {
        let tensor = w
            .tensors_mut()
            .iter_mut()
            .find(|t| t.name == "blk.0.attn_norm.weight")
            .unwrap();
        tensor.dims = vec![1 << 62];
    });
    let err = fixture.refused();
    assert!(matches!(err, GgufError::BadShape { .. }), "{err}");
    assert!(err.to_string().contains("64-bit"), "{err}");
}

#[test]
fn embedding_that_disagrees_with_the_metadata_is_refused() {
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| {
        w.metadata("llama.vocab_size", MetadataValue::U32(300));
    });
    let err = fixture.refused();
    assert!(matches!(err, GgufError::BadShape { .. }), "{err}");
    assert!(err.to_string().contains("'token_embd.weight'"), "{err}");
}

#[test]
fn sentencepiece_vocabularies_are_refused() {
    let mut fixture = Fixture::new(&TinyModel::default());
    fixture.rewrite(|w| {
        w.metadata(
            "tokenizer.ggml.model",
            MetadataValue::String("llama".into()),
        );
    });
    let err = fixture.refused();
    assert!(
        matches!(err, GgufError::UnsupportedTokenizer { .. }),
        "{err}"
    );
}

#[test]
fn existing_output_is_kept_unless_forced() {
    let fixture = Fixture::new(&TinyModel::default());
    let out = fixture.out();
    fs::create_dir(&out).unwrap();
    fs::write(out.join("keep.txt"), "mine").unwrap();
    let err = import_gguf(&fixture.gguf, &out, false).unwrap_err();
    assert!(matches!(err, GgufError::OutputExists { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(folder_entries(&out), ["keep.txt"]);

    import_gguf(&fixture.gguf, &out, true).unwrap();
    assert!(!out.join("keep.txt").exists());
    assert!(out.join("model.safetensors").exists());
    assert_eq!(folder_entries(fixture.dir.path()), ["out", "tiny.gguf"]);

    // An empty folder is fine without --force.
    let empty = fixture.dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    import_gguf(&fixture.gguf, &empty, false).unwrap();
    assert!(empty.join("tokenizer.json").exists());
}
