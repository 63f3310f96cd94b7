//! Building blocks: linear layers with an adapter seam, LayerNorm, RMSNorm, embeddings, and the builder
//! that fills them from a checkpoint while recording every parameter under its Hugging Face name.

use crate::error::Result;
use crate::weights::WeightMap;
use std::fmt::Debug;
use tch::{Kind, Tensor};

/// Something that modifies a linear layer's output: a LoRA, a sparse LoRA, ...
///
/// The model crate knows nothing about TASO; a stage attaches an adapter to a named
/// [`Linear`] and the layer calls it on every forward pass.
pub trait LinearAdapter: Debug + Send {
    /// Returns the adapted output, given the layer input `input` (`[.., d_in]`) and the frozen
    /// layer's output `base_output` (`[.., d_out]`).
    fn adapt(&self, input: &Tensor, base_output: Tensor) -> Tensor;
}

/// A model whose linear layers can be reached by their Hugging Face module path — the seam
/// through which stages attach adapters and ask for weight gradients.
pub trait LinearHost {
    /// Every linear layer, in model order.
    fn linears(&self) -> Vec<&Linear>;

    /// Every linear layer, mutably.
    fn linears_mut(&mut self) -> Vec<&mut Linear>;

    /// The distinct paths of the linear layers inside the numbered blocks (`self_attn.q_proj`,
    /// `attention.self.query`, ...), in model order: what `run.targets` can name.
    fn block_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = Vec::new();
        for linear in self.linears() {
            let mut parts = linear.name().split('.');
            if parts.any(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
                let path = parts.collect::<Vec<_>>().join(".");
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        paths
    }

    /// The linear layer with module path `name` (e.g. `encoder.layer.0.attention.self.query`).
    fn linear_mut(&mut self, name: &str) -> Result<&mut Linear> {
        self.linears_mut()
            .into_iter()
            .find(|l| l.name() == name)
            .ok_or_else(|| crate::error::ModelError::UnknownLinear(name.to_string()))
    }
}

/// A linear layer `y = x Wᵀ + b` that may carry an adapter.
#[derive(Debug)]
pub struct Linear {
    name: String,
    /// Weight, `[d_out, d_in]`.
    pub weight: Tensor,
    /// Bias, `[d_out]`.
    pub bias: Option<Tensor>,
    adapter: Option<Box<dyn LinearAdapter>>,
}

impl Linear {
    /// Wraps existing tensors.
    pub fn new(name: impl Into<String>, weight: Tensor, bias: Option<Tensor>) -> Self {
        Self {
            name: name.into(),
            weight,
            bias,
            adapter: None,
        }
    }

    /// The layer's Hugging Face module path, e.g. `encoder.layer.0.attention.self.query`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Input features.
    pub fn d_in(&self) -> i64 {
        self.weight.size()[1]
    }

    /// Output features.
    pub fn d_out(&self) -> i64 {
        self.weight.size()[0]
    }

    /// The frozen layer's output, plus the adapter's contribution if one is attached.
    pub fn forward(&self, input: &Tensor) -> Tensor {
        let base = input.linear(&self.weight, self.bias.as_ref());
        match &self.adapter {
            Some(adapter) => adapter.adapt(input, base),
            None => base,
        }
    }

    /// Attaches (or with `None` removes) an adapter, returning the previous one.
    pub fn set_adapter(
        &mut self,
        adapter: Option<Box<dyn LinearAdapter>>,
    ) -> Option<Box<dyn LinearAdapter>> {
        std::mem::replace(&mut self.adapter, adapter)
    }

    /// The attached adapter, if any.
    pub fn adapter(&self) -> Option<&dyn LinearAdapter> {
        self.adapter.as_deref()
    }

    /// Asks autograd to compute (or stop computing) `∂L/∂W` for this layer's weight.
    pub fn track_weight_grad(&mut self, on: bool) {
        let _ = self.weight.set_requires_grad(on);
    }

    /// The weight gradient accumulated by the last backward passes, if tracked.
    pub fn weight_grad(&self) -> Option<Tensor> {
        let grad = self.weight.grad();
        grad.defined().then_some(grad)
    }

    /// Clears the accumulated weight gradient.
    pub fn zero_weight_grad(&mut self) {
        let mut grad = self.weight.grad();
        if grad.defined() {
            let _ = grad.zero_();
        }
    }
}

/// Layer normalisation over the last dimension.
#[derive(Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Normalises `x` over its last dimension.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let dim = self.weight.size()[0];
        x.layer_norm([dim], Some(&self.weight), Some(&self.bias), self.eps, false)
    }
}

/// Root-mean-square normalisation over the last dimension (LLaMA's RMSNorm), computed in f32.
#[derive(Debug)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    /// `weight * x / sqrt(mean(x²) + eps)` over the last dimension of `x`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        let x = x.to_kind(Kind::Float);
        let variance = x.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        let normed = (x * (variance + self.eps).rsqrt()).to_kind(kind);
        &self.weight * normed
    }
}

/// Fills modules from a checkpoint and records each parameter under its Hugging Face name.
pub struct Builder {
    weights: WeightMap,
    kind: Kind,
    params: Vec<(String, Tensor)>,
}

impl Builder {
    /// Starts building from a loaded checkpoint; floats are taken (and fresh layers drawn) as `kind`.
    pub fn new(weights: WeightMap, kind: Kind) -> Self {
        Self {
            weights,
            kind,
            params: Vec::new(),
        }
    }

    /// Takes (and draws) the layers built from now on as `kind`: a trained head is f32 whatever
    /// the base model computes in.
    pub fn set_kind(&mut self, kind: Kind) {
        self.kind = kind;
    }

    fn take(&mut self, name: String, shape: &[i64]) -> Result<Tensor> {
        let tensor = self.weights.take(&name, shape, self.kind)?;
        self.params.push((name, tensor.shallow_clone()));
        Ok(tensor)
    }

    /// A linear layer `prefix.weight` `[d_out, d_in]` with an optional `prefix.bias`.
    pub fn linear(&mut self, prefix: &str, d_in: i64, d_out: i64, bias: bool) -> Result<Linear> {
        let weight = self.take(format!("{prefix}.weight"), &[d_out, d_in])?;
        let bias = if bias {
            Some(self.take(format!("{prefix}.bias"), &[d_out])?)
        } else {
            None
        };
        Ok(Linear::new(prefix, weight, bias))
    }

    /// A linear layer taken from the checkpoint if present, else initialised fresh with
    /// [`fresh_linear`] from `seed` (as Hugging Face would initialise a missing layer).
    pub fn linear_or_fresh(
        &mut self,
        prefix: &str,
        d_in: i64,
        d_out: i64,
        init: FreshInit,
    ) -> Result<Linear> {
        let (weight_name, bias_name) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
        if self.has(&weight_name) && self.has(&bias_name) {
            return self.linear(prefix, d_in, d_out, true);
        }
        tracing::info!(
            "{prefix}: not in the checkpoint, initialised fresh (seed {})",
            init.seed
        );
        self.fresh_linear(prefix, d_in, d_out, init)
    }

    /// A freshly initialised linear layer, recorded like a loaded one.
    pub fn fresh_linear(
        &mut self,
        prefix: &str,
        d_in: i64,
        d_out: i64,
        init: FreshInit,
    ) -> Result<Linear> {
        let (weight, bias) = fresh_linear(d_in, d_out, init, self.weights.device(), self.kind);
        self.params
            .push((format!("{prefix}.weight"), weight.shallow_clone()));
        self.params
            .push((format!("{prefix}.bias"), bias.shallow_clone()));
        Ok(Linear::new(prefix, weight, Some(bias)))
    }

    /// Whether the checkpoint still holds a tensor `name`.
    pub fn has(&self, name: &str) -> bool {
        self.weights.contains(name)
    }

    /// LayerNorm parameters `prefix.weight` and `prefix.bias` of size `dim`.
    pub fn layer_norm(&mut self, prefix: &str, dim: i64, eps: f64) -> Result<LayerNorm> {
        let weight = self.take(format!("{prefix}.weight"), &[dim])?;
        let bias = self.take(format!("{prefix}.bias"), &[dim])?;
        Ok(LayerNorm { weight, bias, eps })
    }

    /// RMSNorm scale `prefix.weight` of size `dim`.
    pub fn rms_norm(&mut self, prefix: &str, dim: i64, eps: f64) -> Result<RmsNorm> {
        let weight = self.take(format!("{prefix}.weight"), &[dim])?;
        Ok(RmsNorm { weight, eps })
    }

    /// An embedding table `prefix.weight` `[rows, dim]`.
    pub fn embedding(&mut self, prefix: &str, rows: i64, dim: i64) -> Result<Tensor> {
        self.take(format!("{prefix}.weight"), &[rows, dim])
    }

    /// Hands over the parameters recorded so far (to split a model's parameters by part).
    pub fn take_params(&mut self) -> Vec<(String, Tensor)> {
        std::mem::take(&mut self.params)
    }

    /// Ends building: the recorded parameters, and the checkpoint tensors nobody used.
    pub fn finish(self) -> (Vec<(String, Tensor)>, Vec<String>) {
        (self.params, self.weights.leftover())
    }
}

/// How a layer missing from the checkpoint is initialised: weights `N(0, std²)`, bias zero,
/// drawn from `seed` (see [`crate::init`]), so every run and device gets the same values.
#[derive(Debug, Clone, Copy)]
pub struct FreshInit {
    /// Seed of the draw.
    pub seed: u64,
    /// Standard deviation of the weights (Hugging Face's `initializer_range`).
    pub std: f64,
}

/// A freshly initialised linear layer (see [`FreshInit`]), as `(weight, bias)`.
pub fn fresh_linear(
    d_in: i64,
    d_out: i64,
    init: FreshInit,
    device: tch::Device,
    kind: Kind,
) -> (Tensor, Tensor) {
    let weight = crate::init::seeded_normal(&[d_out, d_in], init.std, init.seed, device, kind);
    let bias = Tensor::zeros([d_out], (kind, device));
    (weight, bias)
}
