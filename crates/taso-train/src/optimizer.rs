//! AdamW written with tensor operations, and global gradient-norm clipping.
//!
//! The update is PyTorch's `torch.optim.AdamW` (no amsgrad): decoupled weight decay
//! `p ← p (1 − lr·wd)`, moments `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`, and
//! `p ← p − lr / (1 − β1^t) · m / (√v / √(1 − β2^t) + ε)`. Tensors without a gradient are
//! skipped, as PyTorch skips parameters whose `.grad` is `None`.

use tch::Tensor;

/// β1 of AdamW.
pub const BETA1: f64 = 0.9;
/// β2 of AdamW.
pub const BETA2: f64 = 0.999;
/// ε of AdamW.
pub const EPS: f64 = 1e-8;

/// The first and second moment estimates of one parameter tensor.
#[derive(Debug)]
pub struct Moments {
    /// `m`, the running mean of gradients (PyTorch's `exp_avg`).
    pub exp_avg: Tensor,
    /// `v`, the running mean of squared gradients (PyTorch's `exp_avg_sq`).
    pub exp_avg_sq: Tensor,
}

/// AdamW over a fixed list of parameter tensors, each with its own learning rate per step.
#[derive(Debug)]
pub struct AdamW {
    weight_decay: f64,
    moments: Vec<Moments>,
    steps: usize,
}

impl AdamW {
    /// An optimizer for `params` (zero moments, no step taken yet).
    pub fn new(params: &[&Tensor], weight_decay: f64) -> Self {
        let moments = params
            .iter()
            .map(|p| Moments {
                exp_avg: p.zeros_like().detach(),
                exp_avg_sq: p.zeros_like().detach(),
            })
            .collect();
        Self {
            weight_decay,
            moments,
            steps: 0,
        }
    }

    /// Updates every tensor that has a gradient, in place and without recording gradients.
    /// `params` pairs each tensor with its learning rate, in the order given to [`AdamW::new`].
    pub fn step(&mut self, params: &[(&Tensor, f64)]) {
        assert_eq!(
            params.len(),
            self.moments.len(),
            "AdamW::step: the parameter list changed"
        );
        self.steps += 1;
        let t = self.steps as i32;
        let correction1 = 1.0 - BETA1.powi(t);
        let correction2_sqrt = (1.0 - BETA2.powi(t)).sqrt();
        tch::no_grad(|| {
            for ((param, lr), moments) in params.iter().zip(&mut self.moments) {
                let grad = param.grad();
                if !grad.defined() {
                    continue;
                }
                let mut param = param.shallow_clone();
                if self.weight_decay > 0.0 {
                    let _ = param.g_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let _ = moments.exp_avg.g_mul_scalar_(BETA1);
                let _ = moments.exp_avg.g_add_(&(&grad * (1.0 - BETA1)));
                let _ = moments.exp_avg_sq.g_mul_scalar_(BETA2);
                let _ = moments.exp_avg_sq.g_add_(&(&grad * &grad * (1.0 - BETA2)));
                let denom = moments.exp_avg_sq.sqrt() / correction2_sqrt + EPS;
                let _ = param.g_sub_(&(&moments.exp_avg / denom * (lr / correction1)));
            }
        });
    }

    /// Optimizer steps taken so far (`t` of the bias correction).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The moments, in parameter order.
    pub fn moments(&self) -> &[Moments] {
        &self.moments
    }

    /// Replaces the state by a saved one (a checkpoint's). The caller checks shapes.
    pub fn restore(&mut self, steps: usize, moments: Vec<Moments>) {
        assert_eq!(
            moments.len(),
            self.moments.len(),
            "AdamW::restore: the parameter list changed"
        );
        self.steps = steps;
        self.moments = moments;
    }
}

/// Scales the gradients of `params` so that their global L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` does (factor `max_norm / (norm + 1e-6)`, capped at 1).
/// Returns the norm before clipping; `max_norm = 0` only measures it.
pub fn clip_grad_norm(params: &[&Tensor], max_norm: f64) -> f64 {
    let grads: Vec<Tensor> = params
        .iter()
        .map(|p| p.grad())
        .filter(Tensor::defined)
        .collect();
    if grads.is_empty() {
        return 0.0;
    }
    tch::no_grad(|| {
        let squares: Vec<Tensor> = grads.iter().map(|g| g.square().sum(g.kind())).collect();
        let norm = Tensor::stack(&squares, 0).sum(squares[0].kind()).sqrt();
        let norm = norm.double_value(&[]);
        if max_norm > 0.0 {
            let factor = (max_norm / (norm + 1e-6)).min(1.0);
            if factor < 1.0 {
                for grad in &grads {
                    let _ = grad.shallow_clone().g_mul_scalar_(factor);
                }
            }
        }
        norm
    })
}

/// Sets the gradients of `params` to zero (where they exist).
pub fn zero_grads(params: &[&Tensor]) {
    for param in params {
        param.shallow_clone().zero_grad();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn param(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).set_requires_grad(true)
    }

    #[test]
    fn first_step_moves_each_entry_by_about_lr_against_its_gradient() {
        let p = param(&[1.0, -2.0, 3.0]);
        let mut adam = AdamW::new(&[&p], 0.0);
        (&p * Tensor::from_slice(&[2.0f32, -1.0, 0.5]))
            .sum(Kind::Float)
            .backward();
        adam.step(&[(&p, 0.1)]);
        // Bias-corrected m/√v is sign(g) on the first step.
        let got = Vec::<f32>::try_from(p.detach()).unwrap();
        let want = [0.9, -1.9, 2.9];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
        assert_eq!(adam.steps(), 1);
    }

    #[test]
    fn matches_the_pytorch_formula_over_three_steps() {
        // torch.optim.AdamW([p], lr=0.01, weight_decay=0.1) on loss = sum(p**2 * [1, 2]),
        // p0 = [0.5, -1.5]; the formula of its docs evaluated in f64.
        let p = param(&[0.5, -1.5]);
        let mut adam = AdamW::new(&[&p], 0.1);
        for _ in 0..3 {
            zero_grads(&[&p]);
            (p.square() * Tensor::from_slice(&[1.0f32, 2.0]))
                .sum(Kind::Float)
                .backward();
            adam.step(&[(&p, 0.01)]);
        }
        let got = Vec::<f32>::try_from(p.detach()).unwrap();
        let want = [0.468_554_f32, -1.465_542_1];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn tensors_without_gradient_are_left_alone() {
        let p = param(&[1.0]);
        let mut adam = AdamW::new(&[&p], 0.5);
        adam.step(&[(&p, 0.1)]);
        assert_eq!(f64::try_from(p.detach()).unwrap(), 1.0);
    }

    #[test]
    fn clipping_scales_the_global_norm_down_only() {
        let a = param(&[0.0, 0.0]);
        let b = param(&[0.0]);
        let loss = (&a * Tensor::from_slice(&[3.0f32, 0.0])).sum(Kind::Float)
            + (&b * 4.0).sum(Kind::Float);
        loss.backward();
        let norm = clip_grad_norm(&[&a, &b], 1.0);
        assert!((norm - 5.0).abs() < 1e-6);
        let clipped = (a.grad().square().sum(Kind::Float) + b.grad().square().sum(Kind::Float))
            .sqrt()
            .double_value(&[]);
        assert!((clipped - 1.0).abs() < 1e-5, "{clipped}");
        assert!((clip_grad_norm(&[&a, &b], 10.0) - clipped).abs() < 1e-9);
        zero_grads(&[&a, &b]);
        assert_eq!(clip_grad_norm(&[&a, &b], 1.0), 0.0);
    }
}
