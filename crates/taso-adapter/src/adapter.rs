//! The two [`LinearAdapter`]s: the compact sparse LoRA that TASO trains, and the masked dense
//! form that verifies it. Both are made by [`MatrixAdapter::adapter`](crate::MatrixAdapter::adapter)
//! and share their factors with it, so an optimizer stepping those factors changes the forward.

use taso_artifact::MatrixRegion;
use taso_models::LinearAdapter;
use tch::{Device, Kind, Tensor};

/// Compact sparse LoRA: `y = base + scatter_rows_R( s · (x[.., C] Aᵀ) Bᵀ )`, with
/// `A ∈ R^{r×|C|}` and `B ∈ R^{|R|×r}`; cost O(r(|R| + |C|)) per token.
///
/// When R (or C) is every row (column), the scatter (gather) is skipped: dense LoRA runs the
/// same code without index operations.
#[derive(Debug)]
pub struct SparseLora {
    /// Kept output rows; `None` when all are kept.
    rows: Option<Tensor>,
    /// Kept input columns; `None` when all are kept.
    cols: Option<Tensor>,
    a: Tensor,
    b: Tensor,
    scale: f64,
}

impl SparseLora {
    /// An adapter on `region` with compact factors `a` `[r, |C|]` and `b` `[|R|, r]` (shared,
    /// not copied). The caller has checked the shapes.
    pub(crate) fn new(region: &MatrixRegion, a: &Tensor, b: &Tensor, scale: f64) -> Self {
        let device = a.device();
        let subset = |kept: &[i64], all: usize| (kept.len() < all).then(|| index(kept, device));
        Self {
            rows: subset(&region.rows, region.target.d_out),
            cols: subset(&region.cols, region.target.d_in),
            a: a.shallow_clone(),
            b: b.shallow_clone(),
            scale,
        }
    }
}

impl LinearAdapter for SparseLora {
    fn adapt(&self, input: &Tensor, base_output: Tensor) -> Tensor {
        let kept_input = match &self.cols {
            Some(cols) => input.index_select(-1, cols),
            None => input.shallow_clone(),
        };
        let low_rank = kept_input
            .to_kind(self.a.kind())
            .linear(&self.a, None::<&Tensor>)
            * self.scale;
        let delta = low_rank.linear(&self.b, None::<&Tensor>);
        // In place: the base output is this layer's own fresh tensor (a linear's backward does
        // not need it), so no copy of the whole `[.., d_out]` output is made.
        match &self.rows {
            Some(rows) => add_rows(base_output, rows, &delta),
            None => add_all(base_output, &delta),
        }
    }
}

/// Adds an f32 adapter term to a base output of any kind as PEFT does under a bf16 or f16
/// model: the sum in f32, rounded once to the base's kind. An in-place add of mixed kinds does
/// exactly that (it computes in the promoted kind), with no f32 copy of the output.
fn add_all(mut base_output: Tensor, delta: &Tensor) -> Tensor {
    base_output.g_add_(delta)
}

/// Like [`add_all`], on the output columns `rows` only. `index_add_` takes one kind, so a bf16
/// or f16 output makes the sum in an f32 copy and rounds it back.
fn add_rows(mut base_output: Tensor, rows: &Tensor, delta: &Tensor) -> Tensor {
    let kind = base_output.kind();
    if kind == Kind::Float {
        return base_output.index_add_(-1, rows, delta);
    }
    base_output
        .to_kind(Kind::Float)
        .index_add_(-1, rows, delta)
        .to_kind(kind)
}

/// Masked dense LoRA: `y = base + s · x (A ⊙ M_A)ᵀ (B ⊙ M_B)ᵀ` with dense `A ∈ R^{r×d_in}`,
/// `B ∈ R^{d_out×r}` and fixed 0/1 masks keeping only A's columns in C and B's rows in R.
/// The masks multiply the factors in the forward pass, so the gradients outside them are
/// exactly zero.
#[derive(Debug)]
pub struct MaskedLora {
    a: Tensor,
    b: Tensor,
    /// `[d_in]`, 1 on the columns in C.
    a_mask: Tensor,
    /// `[d_out, 1]`, 1 on the rows in R.
    b_mask: Tensor,
    scale: f64,
}

impl MaskedLora {
    /// An adapter on `region` with dense factors `a` `[r, d_in]` and `b` `[d_out, r]` (shared,
    /// not copied). The caller has checked the shapes.
    pub(crate) fn new(region: &MatrixRegion, a: &Tensor, b: &Tensor, scale: f64) -> Self {
        let device = a.device();
        Self {
            a: a.shallow_clone(),
            b: b.shallow_clone(),
            a_mask: mask(&region.cols, region.target.d_in, device),
            b_mask: mask(&region.rows, region.target.d_out, device).unsqueeze(1),
            scale,
        }
    }
}

impl LinearAdapter for MaskedLora {
    fn adapt(&self, input: &Tensor, base_output: Tensor) -> Tensor {
        let a = &self.a * &self.a_mask;
        let b = &self.b * &self.b_mask;
        let low_rank = input.to_kind(a.kind()).linear(&a, None::<&Tensor>) * self.scale;
        let delta = low_rank.linear(&b, None::<&Tensor>);
        add_all(base_output, &delta)
    }
}

/// An i64 index tensor on `device`.
pub(crate) fn index(values: &[i64], device: Device) -> Tensor {
    Tensor::from_slice(values).to_device(device)
}

/// A `[len]` f32 vector, 1 at `kept` and 0 elsewhere.
fn mask(kept: &[i64], len: usize, device: Device) -> Tensor {
    let ones = Tensor::ones([kept.len() as i64], (Kind::Float, device));
    Tensor::zeros([len as i64], (Kind::Float, device)).index_copy(0, &index(kept, device), &ones)
}
