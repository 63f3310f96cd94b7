//! How much memory a pass will need, and how much the device has: printed before scoring and
//! training, and a clear refusal — not an allocator crash halfway through — when it will not fit.

use crate::error::{ModelError, Result};
use crate::task_model::TaskModel;
use tch::{Device, Tensor};

const GIB: f64 = (1u64 << 30) as f64;

/// The peak a pass over one batch will hold, in bytes, by part (an upper estimate: it counts
/// what autograd keeps for the backward pass on libtorch's math attention path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Every parameter of the model as held (base in its compute dtype, head in f32).
    pub weights: u64,
    /// Activations kept for the backward pass at the batch and length given.
    pub activations: u64,
    /// Gradients and state: a trainer's f32 gradients and AdamW moments of what it trains, or a
    /// scorer's weight gradients and running sums.
    pub state: u64,
}

impl MemoryEstimate {
    /// Everything together.
    pub fn total(&self) -> u64 {
        self.weights + self.activations + self.state
    }

    /// `weights 0.50 GiB + activations 0.12 GiB + gradients and state 0.01 GiB = 0.63 GiB`.
    pub fn describe(&self) -> String {
        let gib = |bytes: u64| format!("{:.2} GiB", bytes as f64 / GIB);
        format!(
            "weights {} + activations {} + gradients and state {} = {}",
            gib(self.weights),
            gib(self.activations),
            gib(self.state),
            gib(self.total())
        )
    }

    /// Refuses, naming what to change, when `available` bytes will not hold the estimate.
    pub fn check_fits(&self, available: Option<u64>, device: Device, what: &str) -> Result<()> {
        match available {
            Some(available) if self.total() > available => Err(ModelError::WillNotFit {
                what: what.to_string(),
                device: format!("{device:?}"),
                estimate: self.describe(),
                available_gib: available as f64 / GIB,
            }),
            _ => Ok(()),
        }
    }
}

/// Bytes of `tensors` as held.
pub fn tensor_bytes<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) -> u64 {
    tensors
        .into_iter()
        .map(|t| t.numel() as u64 * t.kind().elt_size_in_bytes() as u64)
        .sum()
}

impl TaskModel {
    /// Bytes of every parameter: the base, and the classifier head or an untied `lm_head`.
    pub fn weight_bytes(&self) -> u64 {
        let head = match self {
            TaskModel::Classifier(m) => m.head_parameters(),
            TaskModel::CausalLm(m) => m.head_parameters(),
        };
        tensor_bytes(self.base_parameters().iter().chain(head).map(|(_, t)| t))
    }

    /// Activations autograd keeps for one backward pass over `rows` sequences of `seq` tokens
    /// with at most `answer_tokens` answer tokens each (prompt tasks: the LM head runs only
    /// there). An upper estimate per block: every projection's input and output, the norms'
    /// inputs (and RMSNorm's f32 copies), the attention probabilities, dropout masks. With
    /// `checkpointed` blocks, one block's worth plus every block's input.
    pub fn activation_bytes(
        &self,
        rows: usize,
        seq: usize,
        answer_tokens: usize,
        checkpointed: bool,
    ) -> u64 {
        let tokens = (rows * seq) as u64;
        let scores = |heads: i64| rows as u64 * heads as u64 * (seq * seq) as u64;
        let (per_block, blocks, hidden, bytes, head) = match self {
            TaskModel::Classifier(m) => {
                let c = m.encoder.config();
                let bytes = element_bytes(m.encoder.named_parameters());
                let (h, i) = (c.hidden_size as u64, c.intermediate_size as u64);
                // q, k, v, context, 2 residual sums, 2 norm inputs; intermediate and activation;
                // byte masks of 3 hidden-sized and 1 attention-sized dropout.
                let per_token = bytes * (8 * h + 2 * i) + (3 * h + i);
                let per_block =
                    tokens * per_token + scores(c.num_attention_heads) * (2 * bytes + 1);
                (per_block, c.num_hidden_layers, h, bytes, 0)
            }
            TaskModel::CausalLm(m) => {
                let c = m.config();
                let bytes = element_bytes(m.decoder.named_parameters());
                let (h, i) = (c.hidden_size as u64, c.intermediate_size as u64);
                let q = (c.num_attention_heads * c.head_dim) as u64;
                let kv = (c.num_key_value_heads * c.head_dim) as u64;
                // norm inputs and their f32 copies; q, k, v before and after RoPE, the
                // attention output; the MLP's input, gate, up, activation and product.
                let per_token = bytes * (3 * h + 3 * q + 4 * kv + 4 * i) + 4 * 2 * h;
                let per_block = tokens * per_token + scores(c.num_attention_heads) * bytes;
                // The LM head's logits at the answer positions, and their f32 log-softmax.
                let logits = (rows * answer_tokens) as u64 * c.vocab_size as u64 * (bytes + 8);
                (per_block, c.num_hidden_layers, h, bytes, logits)
            }
        };
        let blocks = blocks as u64;
        let stack = if checkpointed {
            per_block + blocks * tokens * hidden * bytes
        } else {
            per_block * blocks
        };
        stack + head
    }
}

/// The element size of a model's base weights (its compute dtype).
fn element_bytes(params: &[(String, Tensor)]) -> u64 {
    params
        .first()
        .map_or(4, |(_, t)| t.kind().elt_size_in_bytes() as u64)
}

/// Bytes `device` can still hand out: the CPU's `MemAvailable`, or the GPU's free memory as the
/// CUDA runtime reports it; `None` when that cannot be read (then nothing is refused).
pub fn available_memory(device: Device) -> Option<u64> {
    match device {
        Device::Cuda(index) => cuda_free_memory(index),
        _ => cpu_available_memory(),
    }
}

fn cpu_available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// This process's resident memory now and at its highest so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Resident bytes now (`VmRSS`).
    pub resident: u64,
    /// The most resident bytes so far (`VmHWM`).
    pub peak: u64,
}

/// This process's [`ProcessMemory`] from `/proc/self/status`; `None` where that cannot be read
/// (not Linux).
pub fn process_memory() -> Option<ProcessMemory> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(ProcessMemory {
        resident: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// Hands the heap's free pages back to the system (glibc's `malloc_trim(0)`; nothing elsewhere).
/// Batches of changing shapes leave freed activation buffers scattered over the heap, which
/// glibc keeps mapped; trimming after each epoch keeps the resident size at what is in use.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap metadata; it takes no pointers of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `cudaMemGetInfo` of device `index`, looked up in the CUDA runtime libtorch loaded.
fn cuda_free_memory(index: usize) -> Option<u64> {
    type SetDevice = unsafe extern "C" fn(i32) -> i32;
    type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> i32;
    // SAFETY: dlsym on the process's global scope with NUL-terminated names; the symbols, when
    // present, are the CUDA runtime's functions with exactly these C signatures.
    unsafe {
        let set = libc::dlsym(libc::RTLD_DEFAULT, c"cudaSetDevice".as_ptr());
        let info = libc::dlsym(libc::RTLD_DEFAULT, c"cudaMemGetInfo".as_ptr());
        if set.is_null() || info.is_null() {
            return None;
        }
        let set: SetDevice = std::mem::transmute::<*mut libc::c_void, SetDevice>(set);
        let info: MemGetInfo = std::mem::transmute::<*mut libc::c_void, MemGetInfo>(info);
        let (mut free, mut total) = (0usize, 0usize);
        (set(index as i32) == 0 && info(&mut free, &mut total) == 0).then_some(free as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_over_the_limit_is_refused_with_its_parts() {
        let estimate = MemoryEstimate {
            weights: 3 << 30,
            activations: 1 << 30,
            state: 1 << 29,
        };
        let err = estimate
            .check_fits(Some(4 << 30), Device::Cpu, "training")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("4.50 GiB") && err.contains("4.00 GiB"),
            "{err}"
        );
        assert!(err.contains("batch_size") && err.contains("bf16"), "{err}");
        assert!(estimate
            .check_fits(Some(5 << 30), Device::Cpu, "training")
            .is_ok());
        assert!(estimate.check_fits(None, Device::Cpu, "training").is_ok());
    }

    #[test]
    fn this_machine_reports_its_memory() {
        assert!(available_memory(Device::Cpu).is_some_and(|bytes| bytes > 0));
    }
}
