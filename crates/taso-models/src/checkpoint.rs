//! Activation checkpointing per transformer block: the forward pass keeps only each block's
//! input; the backward pass recomputes one block at a time from its input and back-propagates
//! through it, so at most one block's activations are held at once.
//!
//! libtorch's C++ API has no `torch.utils.checkpoint`, so the backward is driven block by block
//! here: the gradient reaching a block's output `g` is carried into its recomputed graph by
//! back-propagating `Σ out ⊙ g` (whose gradient with respect to `out` is exactly `g`). Each
//! block's dropout is seeded identically in the forward pass and in its recomputation, so both
//! draw the same masks; they are not the masks the plain path would draw from the same seed.

use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// The parts of a model a checkpointed backward runs: the embedding, `blocks` blocks, and the
/// head that turns the last block's output into the loss.
pub(crate) struct Stack<E, B> {
    /// Embeds the batch (with autograd when the embeddings train).
    pub embed: E,
    /// Number of blocks.
    pub blocks: usize,
    /// Block `i` on its input.
    pub block: B,
}

impl<E, B> Stack<E, B>
where
    E: FnMut() -> Tensor,
    B: FnMut(usize, &Tensor) -> Tensor,
{
    /// Runs the loss `head` on the stack's output and back-propagates it, times `scale`,
    /// through every block and the embedding; returns the loss (detached, unscaled).
    pub(crate) fn backward(
        mut self,
        scale: f64,
        head: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        // One draw from the caller's generator seeds every block, so a seeded step stays seeded.
        let seed = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]);
        let seeded = |index: usize| tch::manual_seed(seed.wrapping_add(index as i64));
        let inputs = tch::no_grad(|| {
            seeded(self.blocks);
            let mut x = (self.embed)();
            let mut inputs = Vec::with_capacity(self.blocks + 1);
            for index in 0..self.blocks {
                seeded(index);
                let next = (self.block)(index, &x);
                inputs.push(x);
                x = next;
            }
            inputs.push(x);
            inputs
        });
        let last = inputs[self.blocks].detach().set_requires_grad(true);
        let loss = head(&last)?;
        (&loss * scale).f_backward()?;
        let mut grad = last.grad();
        for index in (0..self.blocks).rev() {
            let input = inputs[index].detach().set_requires_grad(true);
            seeded(index);
            let output = (self.block)(index, &input);
            carry(&output, &grad)?;
            grad = input.grad();
        }
        seeded(self.blocks);
        let embedded = (self.embed)();
        if embedded.requires_grad() {
            carry(&embedded, &grad)?;
        }
        Ok(loss.detach())
    }
}

/// Back-propagates the gradient `grad` of `output` into `output`'s graph.
fn carry(output: &Tensor, grad: &Tensor) -> Result<()> {
    if grad.defined() && output.requires_grad() {
        (output * grad).sum(Kind::Float).f_backward()?;
    }
    Ok(())
}
