//! Small GGUF files for tests, written with the library's [`GgufWriter`]: encoders for every
//! supported ggml block type whose dequantised values follow from their fields ([`Q8_0Block`],
//! ...), and a tiny LLaMA/Qwen2 model with a byte-level BPE vocabulary ([`write_tiny_model`]),
//! whose expected Hugging Face tensors come back with it.
//!
//! The block encoders pack fields into ggml's bit layout; their `values()` compute the
//! dequantised values from the unpacked fields (scale × quant − minimum), independently of the
//! bit-level decoder in this crate.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use half::{bf16, f16};

pub use crate::quantize::Q8_0Block;

use crate::ggml_type::GgmlType;
use crate::metadata::MetadataValue;
use crate::names::unpermute_rows;
use crate::writer::{GgufWriter, RawTensor};

/// A `Q4_0` block: `x[i] = d·(qs[i] − 8)`, quants 0..16.
#[derive(Debug, Clone)]
pub struct Q4_0Block {
    /// Scale.
    pub d: f16,
    /// Quants, each below 16.
    pub qs: [u8; 32],
}

impl Q4_0Block {
    /// The packed bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.d.to_le_bytes().to_vec();
        out.extend(pack_nibbles(&self.qs));
        out
    }

    /// The dequantised values.
    pub fn values(&self) -> Vec<f32> {
        let d = self.d.to_f32();
        self.qs.iter().map(|&q| d * (f32::from(q) - 8.0)).collect()
    }
}

/// A `Q4_1` block: `x[i] = d·qs[i] + m`, quants 0..16.
#[derive(Debug, Clone)]
pub struct Q4_1Block {
    /// Scale.
    pub d: f16,
    /// Offset.
    pub m: f16,
    /// Quants, each below 16.
    pub qs: [u8; 32],
}

impl Q4_1Block {
    /// The packed bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.d.to_le_bytes().to_vec();
        out.extend(self.m.to_le_bytes());
        out.extend(pack_nibbles(&self.qs));
        out
    }

    /// The dequantised values.
    pub fn values(&self) -> Vec<f32> {
        let (d, m) = (self.d.to_f32(), self.m.to_f32());
        self.qs.iter().map(|&q| d * f32::from(q) + m).collect()
    }
}

/// Elements 0..16 in the low nibbles, 16..32 in the high ones.
fn pack_nibbles(qs: &[u8; 32]) -> Vec<u8> {
    (0..16).map(|i| qs[i] | (qs[i + 16] << 4)).collect()
}

/// A `Q4_K` block: eight sub-blocks of 32 elements; element `i` of sub-block `j` is
/// `d·scales[j]·qs[32j + i] − dmin·mins[j]`; scales and minimums 0..64, quants 0..16.
#[derive(Debug, Clone)]
pub struct Q4KBlock {
    /// Super-block scale.
    pub d: f16,
    /// Super-block scale of the minimums.
    pub dmin: f16,
    /// Sub-block scales, each below 64.
    pub scales: [u8; 8],
    /// Sub-block minimums, each below 64.
    pub mins: [u8; 8],
    /// Quants, each below 16.
    pub qs: [u8; 256],
}

impl Q4KBlock {
    /// The packed bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (sc, m) = (&self.scales, &self.mins);
        let mut packed = [0u8; 12];
        for j in 0..4 {
            packed[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
            packed[j + 4] = m[j] | ((m[j + 4] >> 4) << 6);
            packed[j + 8] = (sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4);
        }
        let mut qs = [0u8; 128];
        for (i, &q) in self.qs.iter().enumerate() {
            let sub_block = i / 32;
            qs[32 * (sub_block / 2) + i % 32] |= q << (4 * (sub_block % 2));
        }
        let mut out = self.d.to_le_bytes().to_vec();
        out.extend(self.dmin.to_le_bytes());
        out.extend(packed);
        out.extend(qs);
        out
    }

    /// The dequantised values.
    pub fn values(&self) -> Vec<f32> {
        let (d, dmin) = (self.d.to_f32(), self.dmin.to_f32());
        (0..256)
            .map(|i| {
                let j = i / 32;
                d * f32::from(self.scales[j]) * f32::from(self.qs[i])
                    - dmin * f32::from(self.mins[j])
            })
            .collect()
    }
}

/// A `Q6_K` block: sixteen sub-blocks of 16 elements; element `i` of sub-block `j` is
/// `d·scales[j]·(qs[16j + i] − 32)`; quants 0..64.
#[derive(Debug, Clone)]
pub struct Q6KBlock {
    /// Super-block scale.
    pub d: f16,
    /// Sub-block scales.
    pub scales: [i8; 16],
    /// Quants, each below 64.
    pub qs: [u8; 256],
}

impl Q6KBlock {
    /// The packed bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut ql = [0u8; 128];
        let mut qh = [0u8; 64];
        for (e, &q) in self.qs.iter().enumerate() {
            let (half, k, l) = (e / 128, e % 128 / 32, e % 32);
            ql[64 * half + l + 32 * (k % 2)] |= (q & 0x0F) << (4 * (k / 2));
            qh[32 * half + l] |= (q >> 4) << (2 * k);
        }
        let mut out = ql.to_vec();
        out.extend(qh);
        out.extend(self.scales.iter().map(|&s| s as u8));
        out.extend(self.d.to_le_bytes());
        out
    }

    /// The dequantised values.
    pub fn values(&self) -> Vec<f32> {
        let d = self.d.to_f32();
        (0..256)
            .map(|i| d * f32::from(self.scales[i / 16]) * (f32::from(self.qs[i]) - 32.0))
            .collect()
    }
}

/// A deterministic pseudo-random source (SplitMix64).
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.unit()
    }

    /// Uniform integer below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn array<const N: usize>(&mut self, n: u64) -> [u8; N] {
        std::array::from_fn(|_| self.below(n) as u8)
    }
}

/// A tensor of type `ty` with dimensions `dims` (innermost first) filled with pseudo-random
/// values of magnitude below about 0.5, and those values as they dequantise.
pub fn sample_tensor(
    name: &str,
    dims: &[u64],
    ty: GgmlType,
    rng: &mut SplitMix,
) -> (RawTensor, Vec<f32>) {
    let count = dims.iter().product::<u64>() as usize;
    assert_eq!(
        count % ty.block_size(),
        0,
        "{name}: whole {} blocks",
        ty.name()
    );
    let mut bytes = Vec::with_capacity(count / ty.block_size() * ty.block_bytes());
    let mut values = Vec::with_capacity(count);
    for _ in 0..count / ty.block_size() {
        let (block, block_values) = sample_block(ty, rng);
        bytes.extend(block);
        values.extend(block_values);
    }
    let tensor = RawTensor {
        name: name.to_string(),
        dims: dims.to_vec(),
        type_id: ty.id(),
        bytes,
    };
    (tensor, values)
}

fn sample_block(ty: GgmlType, rng: &mut SplitMix) -> (Vec<u8>, Vec<f32>) {
    let x = rng.range(-0.5, 0.5);
    match ty {
        GgmlType::F32 => (x.to_le_bytes().to_vec(), vec![x]),
        GgmlType::F16 => (
            f16::from_f32(x).to_le_bytes().to_vec(),
            vec![f16::from_f32(x).to_f32()],
        ),
        GgmlType::BF16 => (
            bf16::from_f32(x).to_le_bytes().to_vec(),
            vec![bf16::from_f32(x).to_f32()],
        ),
        GgmlType::Q8_0 => {
            let block = Q8_0Block {
                d: f16::from_f32(rng.range(0.001, 0.004)),
                qs: rng.array::<32>(256).map(|q| q as i8),
            };
            (block.encode(), block.values())
        }
        GgmlType::Q4_0 => {
            let block = Q4_0Block {
                d: f16::from_f32(rng.range(0.01, 0.06)),
                qs: rng.array(16),
            };
            (block.encode(), block.values())
        }
        GgmlType::Q4_1 => {
            let block = Q4_1Block {
                d: f16::from_f32(rng.range(0.01, 0.03)),
                m: f16::from_f32(rng.range(-0.25, 0.0)),
                qs: rng.array(16),
            };
            (block.encode(), block.values())
        }
        GgmlType::Q4K => {
            let block = Q4KBlock {
                d: f16::from_f32(rng.range(0.0002, 0.0005)),
                dmin: f16::from_f32(rng.range(0.001, 0.004)),
                scales: rng.array(64),
                mins: rng.array(64),
                qs: rng.array(16),
            };
            (block.encode(), block.values())
        }
        GgmlType::Q6K => {
            let block = Q6KBlock {
                d: f16::from_f32(rng.range(0.0002, 0.0005)),
                scales: rng.array::<16>(61).map(|s| s as i8 - 30),
                qs: rng.array(64),
            };
            (block.encode(), block.values())
        }
    }
}

/// Which tiny model to write.
#[derive(Debug, Clone)]
pub struct TinyModel {
    /// `llama` or `qwen2`.
    pub architecture: &'static str,
    /// Whether to leave out `output.weight` (tied embeddings).
    pub tied: bool,
    /// GGUF version.
    pub version: u32,
    /// `general.alignment`, when set.
    pub alignment: Option<u32>,
}

impl Default for TinyModel {
    fn default() -> Self {
        TinyModel {
            architecture: "llama",
            tied: true,
            version: 3,
            alignment: None,
        }
    }
}

/// The tiny model's sizes.
pub mod tiny {
    /// Residual width.
    pub const HIDDEN: u64 = 64;
    /// SwiGLU width (a multiple of 256 so that `ffn_down` can be a K-quant).
    pub const FFN: u64 = 256;
    /// Decoder layers.
    pub const LAYERS: u64 = 2;
    /// Query heads.
    pub const HEADS: u64 = 4;
    /// Key/value heads.
    pub const KV_HEADS: u64 = 2;
    /// Context length.
    pub const CONTEXT: u64 = 128;
    /// Special tokens, at ids 0, 1 (BOS) and 2 (EOS and padding).
    pub const SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
    /// BPE merges; `1 2` must never apply because digits are split one by one, and `! he`
    /// only where the pre-tokenizer keeps a punctuation mark with the letters after it (Qwen2).
    pub const MERGES: [(&str, &str); 5] = [
        ("h", "e"),
        ("Ġ", "t"),
        ("Ġt", "he"),
        ("1", "2"),
        ("!", "he"),
    ];
    /// The chat template stored in the file.
    pub const CHAT_TEMPLATE: &str =
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
}

/// What [`write_tiny_model`] wrote.
#[derive(Debug, Clone)]
pub struct TinyGguf {
    /// The token strings by id.
    pub tokens: Vec<String>,
    /// The expected Hugging Face tensors: name to (row-major shape, f32 values).
    pub expected: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// The GGUF writer, for tests that alter the file.
    pub writer: GgufWriter,
}

/// Writes a tiny model (see [`tiny`]) with every supported tensor type to `path`: token
/// embedding Q8_0, q Q4_0, k Q4_1, v BF16, o F16, gate Q8_0, up F32, down Q4_K (layer 0) and
/// Q6_K (layer 1), norms F32, an untied output F16 when asked.
pub fn write_tiny_model(path: &Path, model: &TinyModel) -> io::Result<TinyGguf> {
    let tokens = tiny_tokens();
    let mut writer = GgufWriter::default();
    writer.version = model.version;
    tiny_metadata(&mut writer, model, &tokens);
    let mut rng = SplitMix(7);
    let mut expected = BTreeMap::new();
    for spec in tiny_tensor_specs(model, tokens.len() as u64) {
        let (tensor, values) = match spec.ty {
            None => norm_tensor(&spec.gguf, spec.dims[0], &mut rng),
            Some(ty) => sample_tensor(&spec.gguf, &spec.dims, ty, &mut rng),
        };
        let shape: Vec<usize> = spec.dims.iter().rev().map(|&d| d as usize).collect();
        let values = match spec.unpermute_heads {
            Some(heads) => {
                unpermute_rows(&values, shape[0], heads, &spec.gguf).expect("tiny shape")
            }
            None => values,
        };
        expected.insert(spec.hf, (shape, values));
        writer.tensor(tensor);
    }
    writer.write(path)?;
    Ok(TinyGguf {
        tokens,
        expected,
        writer,
    })
}

/// Specials, then the 256 byte-level symbols in code-point order, then the merge results.
fn tiny_tokens() -> Vec<String> {
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
        .into_iter()
        .collect();
    alphabet.sort_unstable();
    let specials = tiny::SPECIALS.iter().map(|s| s.to_string());
    let bytes = alphabet.into_iter().map(String::from);
    let merged = tiny::MERGES.iter().map(|(a, b)| format!("{a}{b}"));
    specials.chain(bytes).chain(merged).collect()
}

fn tiny_metadata(writer: &mut GgufWriter, model: &TinyModel, tokens: &[String]) {
    use MetadataValue::{Array, Bool, String as Str, F32, U32};
    let arch = model.architecture;
    let key = |suffix: &str| format!("{arch}.{suffix}");
    writer
        .metadata("general.architecture", Str(arch.to_string()))
        .metadata("general.name", Str("tiny".to_string()));
    if let Some(alignment) = model.alignment {
        writer.metadata("general.alignment", U32(alignment));
    }
    for (suffix, value) in [
        ("block_count", tiny::LAYERS),
        ("context_length", tiny::CONTEXT),
        ("embedding_length", tiny::HIDDEN),
        ("feed_forward_length", tiny::FFN),
        ("attention.head_count", tiny::HEADS),
        ("attention.head_count_kv", tiny::KV_HEADS),
    ] {
        writer.metadata(&key(suffix), U32(value as u32));
    }
    writer
        .metadata(&key("rope.freq_base"), F32(10_000.0))
        .metadata(&key("attention.layer_norm_rms_epsilon"), F32(1e-5))
        .metadata("tokenizer.ggml.model", Str("gpt2".to_string()))
        .metadata("tokenizer.ggml.pre", Str(tiny_pre(arch).to_string()))
        .metadata(
            "tokenizer.ggml.tokens",
            Array(tokens.iter().cloned().map(Str).collect()),
        )
        .metadata(
            "tokenizer.ggml.token_type",
            Array(
                (0..tokens.len())
                    .map(|i| MetadataValue::I32(if i < 3 { 3 } else { 1 }))
                    .collect(),
            ),
        )
        .metadata(
            "tokenizer.ggml.merges",
            Array(
                tiny::MERGES
                    .iter()
                    .map(|(a, b)| Str(format!("{a} {b}")))
                    .collect(),
            ),
        )
        .metadata("tokenizer.ggml.bos_token_id", U32(1))
        .metadata("tokenizer.ggml.eos_token_id", U32(2))
        .metadata("tokenizer.ggml.padding_token_id", U32(2))
        .metadata("tokenizer.ggml.unknown_token_id", U32(0))
        .metadata("tokenizer.ggml.add_bos_token", Bool(false))
        .metadata(
            "tokenizer.chat_template",
            Str(tiny::CHAT_TEMPLATE.to_string()),
        );
}

/// `tokenizer.ggml.pre` of the tiny model: SmolLM's for llama, Qwen2's for qwen2.
fn tiny_pre(architecture: &str) -> &'static str {
    match architecture {
        "qwen2" => "qwen2",
        _ => "smollm",
    }
}

/// One tensor of the tiny model: `ty` `None` is an F32 norm weight around 1.
struct TinySpec {
    gguf: String,
    hf: String,
    dims: Vec<u64>,
    ty: Option<GgmlType>,
    unpermute_heads: Option<usize>,
}

fn tiny_tensor_specs(model: &TinyModel, vocab: u64) -> Vec<TinySpec> {
    use tiny::{FFN, HEADS, HIDDEN, KV_HEADS, LAYERS};
    let head_dim = HIDDEN / HEADS;
    let llama = model.architecture == "llama";
    let spec = |gguf: &str, hf: &str, dims: &[u64], ty, heads: Option<u64>| TinySpec {
        gguf: gguf.to_string(),
        hf: hf.to_string(),
        dims: dims.to_vec(),
        ty,
        unpermute_heads: heads.filter(|_| llama).map(|h| h as usize),
    };
    let mut specs = vec![
        spec(
            "token_embd.weight",
            "model.embed_tokens.weight",
            &[HIDDEN, vocab],
            Some(GgmlType::Q8_0),
            None,
        ),
        spec(
            "output_norm.weight",
            "model.norm.weight",
            &[HIDDEN],
            None,
            None,
        ),
    ];
    if !model.tied {
        specs.push(spec(
            "output.weight",
            "lm_head.weight",
            &[HIDDEN, vocab],
            Some(GgmlType::F16),
            None,
        ));
    }
    let kv = KV_HEADS * head_dim;
    for layer in 0..LAYERS {
        let down = if layer == 0 {
            GgmlType::Q4K
        } else {
            GgmlType::Q6K
        };
        let mut layer_specs = vec![
            (
                "attn_norm.weight",
                "input_layernorm.weight",
                vec![HIDDEN],
                None,
                None,
            ),
            (
                "ffn_norm.weight",
                "post_attention_layernorm.weight",
                vec![HIDDEN],
                None,
                None,
            ),
            (
                "attn_q.weight",
                "self_attn.q_proj.weight",
                vec![HIDDEN, HIDDEN],
                Some(GgmlType::Q4_0),
                Some(HEADS),
            ),
            (
                "attn_k.weight",
                "self_attn.k_proj.weight",
                vec![HIDDEN, kv],
                Some(GgmlType::Q4_1),
                Some(KV_HEADS),
            ),
            (
                "attn_v.weight",
                "self_attn.v_proj.weight",
                vec![HIDDEN, kv],
                Some(GgmlType::BF16),
                None,
            ),
            (
                "attn_output.weight",
                "self_attn.o_proj.weight",
                vec![HIDDEN, HIDDEN],
                Some(GgmlType::F16),
                None,
            ),
            (
                "ffn_gate.weight",
                "mlp.gate_proj.weight",
                vec![HIDDEN, FFN],
                Some(GgmlType::Q8_0),
                None,
            ),
            (
                "ffn_up.weight",
                "mlp.up_proj.weight",
                vec![HIDDEN, FFN],
                Some(GgmlType::F32),
                None,
            ),
            (
                "ffn_down.weight",
                "mlp.down_proj.weight",
                vec![FFN, HIDDEN],
                Some(down),
                None,
            ),
        ];
        if !llama {
            layer_specs.extend([
                (
                    "attn_q.bias",
                    "self_attn.q_proj.bias",
                    vec![HIDDEN],
                    Some(GgmlType::F32),
                    None,
                ),
                (
                    "attn_k.bias",
                    "self_attn.k_proj.bias",
                    vec![kv],
                    Some(GgmlType::F32),
                    None,
                ),
                (
                    "attn_v.bias",
                    "self_attn.v_proj.bias",
                    vec![kv],
                    Some(GgmlType::F32),
                    None,
                ),
            ]);
        }
        for (gguf, hf, dims, ty, heads) in layer_specs {
            specs.push(spec(
                &format!("blk.{layer}.{gguf}"),
                &format!("model.layers.{layer}.{hf}"),
                &dims,
                ty,
                heads,
            ));
        }
    }
    specs
}

/// An F32 vector of values in `[0.9, 1.1)`.
fn norm_tensor(name: &str, len: u64, rng: &mut SplitMix) -> (RawTensor, Vec<f32>) {
    let values: Vec<f32> = (0..len).map(|_| rng.range(0.9, 1.1)).collect();
    let tensor = RawTensor {
        name: name.to_string(),
        dims: vec![len],
        type_id: GgmlType::F32.id(),
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    (tensor, values)
}
