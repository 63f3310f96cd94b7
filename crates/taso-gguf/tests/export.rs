//! End-to-end exports of folders imported from the tiny GGUF models of `taso_gguf::testing`:
//! import(export(folder)) gives the folder back, export(import(file)) the file's tensors and
//! metadata, F16 and Q8_0 stay within their rounding, and every refusal leaves nothing behind.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use taso_gguf::testing::{write_tiny_model, TinyGguf, TinyModel};
use taso_gguf::{
    dequantize, export_gguf, import_gguf, GgmlType, GgufError, GgufFile, GgufOutType, MetadataValue,
};
use tokenizers::Tokenizer;

/// Strings the round-tripped tokenizers must encode alike.
const TEXTS: [&str; 5] = [
    "<|im_start|>the the 123<|im_end|>",
    "héllo wörld\n\ttabs",
    "!he the 12",
    "  two spaces",
    "<|endoftext|>x",
];

/// A tiny GGUF file and its import, `hf`, in a temporary folder.
struct Fixture {
    dir: tempfile::TempDir,
    tiny: TinyGguf,
}

impl Fixture {
    /// Writes the tiny model, after `change` alters its writer, and imports it.
    fn new(model: &TinyModel, change: impl FnOnce(&mut TinyGguf)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let gguf = dir.path().join("tiny.gguf");
        let mut tiny = write_tiny_model(&gguf, model).unwrap();
        change(&mut tiny);
        tiny.writer.write(&gguf).unwrap();
        import_gguf(&gguf, &dir.path().join("hf"), false).unwrap();
        Fixture { dir, tiny }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Exports `hf` to `out.gguf` as `out_type`.
    fn export(&self, out_type: GgufOutType) -> PathBuf {
        let out = self.path("out.gguf");
        export_gguf(&self.path("hf"), &out, out_type, true).unwrap();
        out
    }

    /// Exports, expecting an error, and checks that the folder's entries did not change.
    fn refused(&self) -> GgufError {
        let before = folder_entries(self.dir.path());
        let err = export_gguf(
            &self.path("hf"),
            &self.path("out.gguf"),
            GgufOutType::F16,
            false,
        )
        .unwrap_err();
        assert_eq!(folder_entries(self.dir.path()), before, "after: {err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        err
    }

    /// Rewrites `hf/model.safetensors` after `change` alters its tensors.
    fn rewrite_weights(&self, change: impl FnOnce(&mut Weights)) {
        let path = self.path("hf/model.safetensors");
        let mut weights = read_weights(&path);
        change(&mut weights);
        let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = weights
            .into_iter()
            .map(|(name, (dtype, shape, values))| {
                let data = match dtype {
                    Dtype::BF16 => values
                        .iter()
                        .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
                        .collect(),
                    _ => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                };
                (name, dtype, shape, data)
            })
            .collect();
        let views = bytes.iter().map(|(name, dtype, shape, data)| {
            (name, TensorView::new(*dtype, shape.clone(), data).unwrap())
        });
        safetensors::serialize_to_file(views, None, &path).unwrap();
    }

    /// Rewrites the JSON file `hf/<name>` after `change` alters it.
    fn rewrite_json(&self, name: &str, change: impl FnOnce(&mut Value)) {
        let path = self.path(&format!("hf/{name}"));
        let mut value = read_json(&path);
        change(&mut value);
        fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    }
}

/// Tensors by name: dtype, shape, values as f32.
type Weights = BTreeMap<String, (Dtype, Vec<usize>, Vec<f32>)>;

fn read_weights(path: &Path) -> Weights {
    let bytes = fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = match view.dtype() {
                Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
                other => panic!("{name}: {other:?}"),
            };
            (name, (view.dtype(), view.shape().to_vec(), values))
        })
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn folder_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Imports `gguf` into `<dir>/<name>` and returns that folder.
fn import_into(fixture: &Fixture, gguf: &Path, name: &str) -> PathBuf {
    let out = fixture.path(name);
    import_gguf(gguf, &out, true).unwrap();
    out
}

/// Exports to F32 and imports again: every tensor bit for bit, config.json,
/// generation_config.json, tokenizer_config.json and tokenizer.json are the same.
fn assert_folder_round_trips(fixture: &Fixture) {
    let gguf = fixture.export(GgufOutType::F32);
    let again = import_into(fixture, &gguf, "again");
    let hf = fixture.path("hf");
    let (before, after) = (
        read_weights(&hf.join("model.safetensors")),
        read_weights(&again.join("model.safetensors")),
    );
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, (_, shape, values)) in &before {
        let (_, shape_after, values_after) = &after[name];
        assert_eq!(shape, shape_after, "{name}");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(bits(values) == bits(values_after), "{name}: values differ");
    }
    for file in [
        "config.json",
        "generation_config.json",
        "tokenizer_config.json",
        "tokenizer.json",
    ] {
        assert_eq!(
            read_json(&hf.join(file)),
            read_json(&again.join(file)),
            "{file}"
        );
    }
    let load = |dir: &Path| Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let (ours, theirs) = (load(&hf), load(&again));
    for text in TEXTS {
        let ids = |t: &Tokenizer| t.encode(text, true).unwrap().get_ids().to_vec();
        assert_eq!(ids(&ours), ids(&theirs), "{text:?}");
    }
}

#[test]
fn untied_llama_with_rope_scaling_round_trips_bit_for_bit() {
    let fixture = Fixture::new(
        &TinyModel {
            tied: false,
            ..TinyModel::default()
        },
        |tiny| {
            tiny.writer
                .metadata(
                    "llama.rope.scaling.type",
                    MetadataValue::String("linear".into()),
                )
                .metadata("llama.rope.scaling.factor", MetadataValue::F32(2.0));
        },
    );
    let config = read_json(&fixture.path("hf/config.json"));
    assert_eq!(config["rope_scaling"]["factor"], 2.0);
    assert_folder_round_trips(&fixture);
}

#[test]
fn tied_qwen2_with_biases_round_trips_bit_for_bit() {
    let fixture = Fixture::new(
        &TinyModel {
            architecture: "qwen2",
            ..TinyModel::default()
        },
        |_| {},
    );
    assert_folder_round_trips(&fixture);
}

/// Exports the import of the tiny model (F32) and compares the file with the original:
/// the same tensors (names, dimensions, dequantised values, q/k rows permuted back) and every
/// metadata value the original holds, `general.name` aside.
fn assert_gguf_round_trips(model: &TinyModel) {
    let fixture = Fixture::new(model, |_| {});
    let exported = GgufFile::open(&fixture.export(GgufOutType::F32)).unwrap();
    let original = GgufFile::open(&fixture.path("tiny.gguf")).unwrap();
    let values = |file: &GgufFile, name: &str| {
        let info = file.tensor(name).unwrap();
        let ty = info.ggml_type().unwrap();
        (
            info.dims.clone(),
            dequantize(ty, &file.tensor_bytes(info).unwrap()),
        )
    };
    let mut names: Vec<&str> = original.tensors.iter().map(|t| t.name.as_str()).collect();
    let mut exported_names: Vec<&str> = exported.tensors.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    exported_names.sort_unstable();
    assert_eq!(names, exported_names);
    for name in names {
        assert!(
            values(&original, name) == values(&exported, name),
            "{name} differs"
        );
    }
    for (key, value) in &original.metadata.0 {
        if key != "general.name" {
            assert_eq!(exported.metadata.get(key), Some(value), "{key}");
        }
    }
    assert_eq!(
        exported.metadata.get("general.file_type"),
        Some(&MetadataValue::U32(0))
    );
}

#[test]
fn export_of_an_imported_llama_gives_back_its_gguf_tensors_and_metadata() {
    // The q and k rows come back in llama.cpp's permuted order, exactly.
    assert_gguf_round_trips(&TinyModel {
        tied: false,
        ..TinyModel::default()
    });
}

#[test]
fn export_of_an_imported_qwen2_gives_back_its_gguf_tensors_and_metadata() {
    assert_gguf_round_trips(&TinyModel {
        architecture: "qwen2",
        ..TinyModel::default()
    });
}

/// The types the exported file stores each tensor in, by GGUF name.
fn stored_types(gguf: &Path) -> BTreeMap<String, GgmlType> {
    let file = GgufFile::open(gguf).unwrap();
    file.tensors
        .iter()
        .map(|t| (t.name.clone(), t.ggml_type().unwrap()))
        .collect()
}

/// Exports as `out_type`, checks that vectors are F32 and matrices `ty`, imports again and
/// returns the weights before and after.
fn export_and_reimport(out_type: GgufOutType, ty: GgmlType) -> (Weights, Weights) {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    let gguf = fixture.export(out_type);
    for (name, stored) in stored_types(&gguf) {
        let vector = name.contains("norm");
        assert_eq!(stored, if vector { GgmlType::F32 } else { ty }, "{name}");
    }
    let file_type = GgufFile::open(&gguf)
        .unwrap()
        .metadata
        .u64("general.file_type");
    assert_eq!(file_type.unwrap(), u64::from(out_type.file_type()));
    let again = import_into(&fixture, &gguf, "again");
    (
        read_weights(&fixture.path("hf/model.safetensors")),
        read_weights(&again.join("model.safetensors")),
    )
}

#[test]
fn f16_export_rounds_each_matrix_value_to_f16_and_keeps_vectors() {
    let (before, after) = export_and_reimport(GgufOutType::F16, GgmlType::F16);
    for (name, (_, shape, values)) in &before {
        let got = &after[name].2;
        let expected: Vec<f32> = match shape.len() {
            1 => values.clone(),
            _ => values.iter().map(|&v| f16::from_f32(v).to_f32()).collect(),
        };
        assert!(*got == expected, "{name}");
    }
}

#[test]
fn q8_0_export_stays_within_the_block_bound_and_keeps_vectors() {
    let (before, after) = export_and_reimport(GgufOutType::Q8_0, GgmlType::Q8_0);
    for (name, (_, shape, values)) in &before {
        let got = &after[name].2;
        if shape.len() == 1 {
            assert!(got == values, "{name}");
            continue;
        }
        for (block, got) in values.chunks(32).zip(got.chunks(32)) {
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            // Rounding to the nearest quant, plus the f16 rounding of the scale.
            let bound = amax / 254.0 + 127.0 * (f16::from_f32(d).to_f32() - d).abs();
            for (x, y) in block.iter().zip(got) {
                assert!((x - y).abs() <= bound * (1.0 + 1e-6), "{name}: {x} vs {y}");
            }
        }
    }
}

#[test]
fn bf16_weights_export_exactly() {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    fixture.rewrite_weights(|weights| {
        weights
            .values_mut()
            .for_each(|(dtype, _, _)| *dtype = Dtype::BF16);
    });
    let gguf = fixture.export(GgufOutType::F32);
    let again = import_into(&fixture, &gguf, "again");
    let imported = read_weights(&again.join("model.safetensors"));
    for (name, (shape, values)) in &fixture.tiny.expected {
        let (_, got_shape, got) = &imported[name];
        assert_eq!(shape, got_shape, "{name}");
        let rounded: Vec<f32> = values.iter().map(|&v| bf16::from_f32(v).to_f32()).collect();
        assert!(*got == rounded, "{name}");
    }
}

#[test]
fn other_architectures_are_refused_naming_the_model_type() {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    fixture.rewrite_json("config.json", |config| config["model_type"] = "bert".into());
    let err = fixture.refused();
    assert!(matches!(err, GgufError::InvalidModelFile { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("'bert'") && message.contains("config.json"),
        "{message}"
    );
}

#[test]
fn a_missing_tokenizer_json_is_refused_naming_it() {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    fs::remove_file(fixture.path("hf/tokenizer.json")).unwrap();
    let err = fixture.refused();
    assert!(matches!(err, GgufError::MissingModelFile { .. }), "{err}");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn tokenizers_that_are_not_byte_level_bpe_are_refused_in_one_line() {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    fixture.rewrite_json("tokenizer.json", |tokenizer| {
        tokenizer["decoder"] = serde_json::json!({"type": "Metaspace"});
    });
    let err = fixture.refused();
    let message = err.to_string();
    assert!(
        message.contains("'Metaspace'") && message.contains("byte-level BPE"),
        "{message}"
    );
}

#[test]
fn an_unknown_tensor_is_refused_naming_it() {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    fixture.rewrite_weights(|weights| {
        let bias = (Dtype::F32, vec![64], vec![0.0; 64]);
        weights.insert("model.layers.0.self_attn.o_proj.bias".to_string(), bias);
    });
    let err = fixture.refused();
    assert!(matches!(err, GgufError::UnknownTensor { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("'model.layers.0.self_attn.o_proj.bias'"),
        "{err}"
    );
}

#[test]
fn a_missing_tensor_and_a_shape_that_disagrees_with_the_config_are_refused() {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    fixture.rewrite_weights(|weights| {
        weights.remove("model.layers.1.mlp.up_proj.weight");
    });
    let err = fixture.refused();
    assert!(
        err.to_string()
            .contains("'model.layers.1.mlp.up_proj.weight'"),
        "{err}"
    );
    fixture.rewrite_json("config.json", |config| {
        config["intermediate_size"] = 128.into()
    });
    let err = fixture.refused();
    assert!(err.to_string().contains("disagree"), "{err}");
}

#[test]
fn an_existing_output_is_kept_unless_forced() {
    let fixture = Fixture::new(&TinyModel::default(), |_| {});
    let out = fixture.path("out.gguf");
    fs::write(&out, "mine").unwrap();
    let err = fixture.refused();
    assert!(matches!(err, GgufError::OutputFileExists { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(fs::read_to_string(&out).unwrap(), "mine");

    let summary = export_gguf(&fixture.path("hf"), &out, GgufOutType::Q8_0, true).unwrap();
    assert_eq!(summary.file_bytes, fs::metadata(&out).unwrap().len());
    assert_eq!(summary.tensor_count, fixture.tiny.expected.len());
    assert!(GgufFile::open(&out).is_ok());
    assert_eq!(
        folder_entries(fixture.dir.path()),
        ["hf", "out.gguf", "tiny.gguf"]
    );
}
