//! The learning-rate schedule: linear warm-up, then linear decay to 0.

/// Linear warm-up over the first `warmup_steps` steps, then linear decay to 0 at `total_steps`,
/// as Hugging Face's `get_linear_schedule_with_warmup` computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Optimizer steps of the whole run.
    pub total_steps: usize,
    /// Steps of the warm-up.
    pub warmup_steps: usize,
}

impl Schedule {
    /// A schedule over `total_steps` whose warm-up takes `ceil(warmup_ratio · total_steps)` steps.
    pub fn new(total_steps: usize, warmup_ratio: f64) -> Self {
        let warmup_steps = (warmup_ratio * total_steps as f64).ceil() as usize;
        Self {
            total_steps,
            warmup_steps: warmup_steps.min(total_steps),
        }
    }

    /// The factor on the peak learning rate for the optimizer step with 0-based index `step`:
    /// `step / warmup` during the warm-up, then `(total − step) / (total − warmup)`.
    pub fn factor(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            step as f64 / self.warmup_steps as f64
        } else {
            let left = self.total_steps.saturating_sub(step) as f64;
            let span = (self.total_steps - self.warmup_steps).max(1) as f64;
            left / span
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let schedule = Schedule::new(10, 0.2);
        assert_eq!(schedule.warmup_steps, 2);
        let factors: Vec<f64> = (0..10).map(|s| schedule.factor(s)).collect();
        assert_eq!(
            factors,
            [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
        );
        assert_eq!(schedule.factor(10), 0.0);
    }

    #[test]
    fn no_warmup_starts_at_the_peak() {
        let schedule = Schedule::new(4, 0.0);
        assert_eq!(schedule.factor(0), 1.0);
        assert_eq!(schedule.factor(3), 0.25);
        assert_eq!(Schedule::new(1, 0.06).warmup_steps, 1);
    }
}
