//! Progress reporting: a `tracing` line every `log_every` steps (step/total, loss, lr,
//! examples/s, ETA), and a progress bar when stderr is a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports the steps of one training session.
pub(crate) struct StepLog {
    bar: Option<ProgressBar>,
    log_every: usize,
    total: usize,
    first_step: usize,
    started: Instant,
    examples: usize,
}

impl StepLog {
    /// A log for steps `first_step + 1 ..= total` (a resumed session starts past 0).
    pub(crate) fn new(first_step: usize, total: usize, log_every: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64).with_position(first_step as u64);
            let style = ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}",
            )
            .expect("the template is valid");
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            log_every,
            total,
            first_step,
            started: Instant::now(),
            examples: 0,
        }
    }

    /// Records a finished step (1-based `step`) of `examples` examples.
    pub(crate) fn step(&mut self, step: usize, loss: f64, lr: f64, examples: usize) {
        self.examples += examples;
        let elapsed = self.started.elapsed().as_secs_f64();
        let per_second = self.examples as f64 / elapsed.max(1e-9);
        let done = step - self.first_step;
        let eta = Duration::from_secs_f64(elapsed / done as f64 * (self.total - step) as f64);
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(format!("loss {loss:.4} lr {lr:.2e} {per_second:.1} ex/s"));
        }
        if step.is_multiple_of(self.log_every) || step == self.total {
            self.info(&format!(
                "step {step}/{} loss {loss:.4} lr {lr:.3e} {per_second:.1} examples/s ETA {}",
                self.total,
                format_duration(eta)
            ));
        }
    }

    /// Logs `message` at info level without tearing the bar.
    pub(crate) fn info(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| tracing::info!("{message}")),
            None => tracing::info!("{message}"),
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1h02m03s`, `2m03s` or `3s`.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short_and_readable() {
        assert_eq!(format_duration(Duration::from_secs(3)), "3s");
        assert_eq!(format_duration(Duration::from_secs(123)), "2m03s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h02m03s");
    }
}
