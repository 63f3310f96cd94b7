//! How loud each input feature of the target matrices runs on the calibration batches: the
//! root mean square of every input channel over the real tokens. The `taso-score inputs` report
//! sets it against the matrix's median channel, and `score.input_norm = "rms"` divides each
//! column's importance by it.
//!
//! A weight's gradient `∂L/∂W_ij = Σ_t δ_i,t x_j,t` grows with the activations `x_j` of its input
//! channel, and so does its importance `|W_ij ∂L/∂W_ij|`. Where a few channels run far louder
//! than the rest, their columns rank high in every matrix that reads them; the report tells
//! whether the columns the selection keeps are those.

use std::fmt::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use taso_artifact::group_by_matrix_type;
use taso_models::{LinearAdapter, LinearHost, TaskBatch, TaskModel};
use taso_run::RunContext;
use tch::{Device, Kind, Tensor};

use crate::calibration_set::{calibration_plan, target_names};
use crate::{ScoreConfig, ScoreError};

/// The root mean square of each input feature of one target matrix, over the real tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRms {
    /// The matrix's module path.
    pub name: String,
    /// One value per input feature (column of W).
    pub rms: Vec<f64>,
}

/// Runs the calibration batches that scoring would draw through the base model (no gradients,
/// dropout off) and measures every target matrix's input features over the real tokens; also
/// returns the number of calibration examples.
pub fn input_rms(
    ctx: &RunContext,
    config: &ScoreConfig,
) -> Result<(Vec<InputRms>, usize), ScoreError> {
    let (split, plan) = calibration_plan(ctx, config)?;
    let mut model = ctx.load_model()?;
    let names = target_names(ctx, &model)?;
    let batches: Vec<TaskBatch> = plan.iter().map(|b| split.batch(b, ctx.device)).collect();
    let rms = measure(&mut model, &names, &batches)?;
    Ok((rms, plan.iter().map(Vec::len).sum()))
}

/// Runs `batches` forward without gradients with a probe on each linear layer of `names`, takes
/// the probes off again and returns each layer's input-feature RMS over the real tokens.
pub(crate) fn measure(
    model: &mut TaskModel,
    names: &[String],
    batches: &[TaskBatch],
) -> Result<Vec<InputRms>, ScoreError> {
    let mut probes = Vec::with_capacity(names.len());
    for name in names {
        let probe = Probe::default();
        let previous = model
            .linear_mut(name)?
            .set_adapter(Some(Box::new(probe.clone())));
        probes.push((probe, previous));
    }
    let passes = batches.iter().try_for_each(|batch| {
        let mask = batch.attention_mask().to_kind(Kind::Float);
        for (probe, _) in &probes {
            probe.state().mask = Some(mask.shallow_clone());
        }
        // Only the forward pass matters: the probes see every target's input on the way.
        tch::no_grad(|| model.loss(batch, false)).map(drop)
    });
    let mut rms = Vec::with_capacity(names.len());
    for (name, (probe, previous)) in names.iter().zip(probes) {
        model.linear_mut(name)?.set_adapter(previous);
        rms.push(InputRms {
            name: name.clone(),
            rms: probe.rms(),
        });
    }
    passes?;
    Ok(rms)
}

/// An adapter that changes nothing and sums the squares of its layer's input features over the
/// real tokens of each batch (those where `mask` is 1).
#[derive(Debug, Clone, Default)]
struct Probe(Arc<Mutex<ProbeState>>);

#[derive(Debug, Default)]
struct ProbeState {
    /// The current batch's attention mask, `[rows, seq]`.
    mask: Option<Tensor>,
    /// Σ x² per input feature, f64.
    sum_sq: Option<Tensor>,
    tokens: f64,
}

impl Probe {
    fn state(&self) -> MutexGuard<'_, ProbeState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `√(Σ x² / tokens)` per feature; empty before any batch.
    fn rms(&self) -> Vec<f64> {
        let state = self.state();
        match &state.sum_sq {
            Some(sum) => {
                let rms = (sum / state.tokens.max(1.0)).sqrt().to_device(Device::Cpu);
                Vec::<f64>::try_from(rms).expect("a 1-d f64 tensor converts")
            }
            None => Vec::new(),
        }
    }
}

impl LinearAdapter for Probe {
    fn adapt(&self, input: &Tensor, base_output: Tensor) -> Tensor {
        let mut state = self.state();
        let d_in = *input
            .size()
            .last()
            .expect("a linear layer's input has features");
        let squares = input.detach().to_kind(Kind::Double).square();
        let leading = &input.size()[..input.dim() - 1];
        let (squares, tokens) = match &state.mask {
            Some(mask) if mask.size() == leading => (
                squares * mask.to_kind(Kind::Double).unsqueeze(-1),
                mask.sum(Kind::Double).double_value(&[]),
            ),
            _ => (squares, (input.numel() as i64 / d_in.max(1)) as f64),
        };
        let sums = squares
            .reshape([-1, d_in])
            .sum_dim_intlist(0, false, Kind::Double);
        state.sum_sq = Some(match state.sum_sq.take() {
            Some(total) => total + sums,
            None => sums,
        });
        state.tokens += tokens;
        base_output
    }
}

/// One matrix type's input features, over its layers.
#[derive(Debug, Clone, PartialEq)]
pub struct LoudFeatures {
    /// The path after the layer number (`self_attn.q_proj`), or the whole path outside blocks.
    pub matrix_type: String,
    pub layers: usize,
    pub features: usize,
    /// The median feature's RMS, mean over the layers.
    pub median_rms: f64,
    /// The share of `Σ RMS²` in the loudest eighth of the features, mean over the layers.
    pub loudest_eighth_share: f64,
    /// The loudest features, most first: index and its RMS over the median feature's, mean
    /// over the layers.
    pub loudest: Vec<(usize, f64)>,
}

/// How many features the report names per matrix type.
const NAMED: usize = 8;

/// Groups `rms` by matrix type, in the order the types first appear.
pub fn loud_features(rms: &[InputRms]) -> Vec<LoudFeatures> {
    let measured = rms.iter().filter(|m| !m.rms.is_empty());
    group_by_matrix_type(measured.map(|m| (&m.name, m.rms.as_slice())))
        .into_iter()
        .filter_map(|(matrix_type, layers)| summarise(matrix_type, &layers))
        .collect()
}

/// The figures of one type whose layers all have the same number of features.
fn summarise(matrix_type: String, layers: &[&[f64]]) -> Option<LoudFeatures> {
    let features = layers.first()?.len();
    if layers.iter().any(|l| l.len() != features) {
        return None;
    }
    let mut ratio_sums = vec![0.0; features];
    let (mut median_sum, mut share_sum) = (0.0, 0.0);
    for rms in layers {
        let mut sorted = rms.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let median = sorted[features / 2];
        median_sum += median;
        let energy: f64 = sorted.iter().map(|r| r * r).sum();
        let loudest: f64 = sorted
            .iter()
            .take(features.div_ceil(8))
            .map(|r| r * r)
            .sum();
        share_sum += loudest / energy.max(f64::MIN_POSITIVE);
        for (sum, r) in ratio_sums.iter_mut().zip(rms.iter()) {
            *sum += r / median.max(f64::MIN_POSITIVE);
        }
    }
    let n = layers.len() as f64;
    let mut loudest: Vec<(usize, f64)> = ratio_sums
        .into_iter()
        .map(|sum| sum / n)
        .enumerate()
        .collect();
    loudest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    loudest.truncate(NAMED);
    Some(LoudFeatures {
        matrix_type,
        layers: layers.len(),
        features,
        median_rms: median_sum / n,
        loudest_eighth_share: share_sum / n,
        loudest,
    })
}

/// `inputs.md`: the table of [`loud_features`], for `examples` calibration examples.
pub fn render(types: &[LoudFeatures], examples: usize) -> String {
    let mut out = format!(
        "# Input features of the target matrices (taso-score inputs)\n\n\
         The root mean square of each input feature (column of W) over the real tokens of the \
         {examples} calibration examples scoring draws with this config, no gradients, dropout \
         off. A feature's loudness is its RMS over the median feature's of the same matrix, mean \
         over the layers. `|W ⊙ ∂L/∂W|` of a column grows with its feature's activations, so \
         loud features rank high wherever they are read.\n\n\
         | matrix type | layers | features | median RMS | loudest eighth's share of Σ RMS² | \
         loudest features (× median) |\n|---|---|---|---|---|---|\n"
    );
    for t in types {
        let loudest: Vec<String> = t
            .loudest
            .iter()
            .map(|(index, ratio)| format!("{index} ({ratio:.1}×)"))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.0}% | {} |",
            t.matrix_type,
            t.layers,
            t.features,
            t.median_rms,
            100.0 * t.loudest_eighth_share,
            loudest.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_measures_real_tokens_only_and_passes_the_output_through() {
        let probe = Probe::default();
        // Two rows of three tokens with two features; the last token of row 1 is padding.
        let input = Tensor::from_slice(&[1.0f32, 2., 3., 4., 5., 6., 7., 8., 9., 10., 99., 99.])
            .view([2, 3, 2]);
        probe.state().mask = Some(Tensor::from_slice(&[1.0f32, 1., 1., 1., 1., 0.]).view([2, 3]));
        let base = Tensor::from_slice(&[0.5f32]);
        let out = probe.adapt(&input, base.shallow_clone());
        assert_eq!(out.double_value(&[0]), 0.5);
        let expected = |values: &[f64]| (values.iter().map(|v| v * v).sum::<f64>() / 5.0).sqrt();
        let rms = probe.rms();
        assert!((rms[0] - expected(&[1., 3., 5., 7., 9.])).abs() < 1e-12);
        assert!((rms[1] - expected(&[2., 4., 6., 8., 10.])).abs() < 1e-12);
        // A second batch adds to the sums; without a mask every token counts.
        probe.state().mask = None;
        let _ = probe.adapt(&Tensor::from_slice(&[0.0f32, 0.0]).view([1, 2]), base);
        let again = probe.rms();
        assert!(
            (again[0] - (expected(&[1., 3., 5., 7., 9.]).powi(2) * 5.0 / 6.0).sqrt()).abs() < 1e-12
        );
    }

    #[test]
    fn one_loud_feature_in_every_layer_leads_its_type() {
        let layer = |l: usize, loud: f64| InputRms {
            name: format!("model.layers.{l}.self_attn.q_proj"),
            rms: (0..16)
                .map(|j| if j == 5 { loud } else { 1.0 + j as f64 / 100.0 })
                .collect(),
        };
        let rms = [layer(0, 20.0), layer(1, 40.0), layer(2, 30.0)];
        let types = loud_features(&rms);
        assert_eq!(types.len(), 1);
        let q = &types[0];
        assert_eq!(
            (q.matrix_type.as_str(), q.layers, q.features),
            ("self_attn.q_proj", 3, 16)
        );
        assert_eq!(q.loudest[0].0, 5);
        // The median of 16 (descending, index 8) is 1.08 in every layer.
        assert!((q.loudest[0].1 - 30.0 / 1.08).abs() < 1e-9);
        assert!((q.median_rms - 1.08).abs() < 1e-12);
        assert!(q.loudest_eighth_share > 0.9);
        let text = render(&types, 12);
        assert!(text.contains("12 calibration examples"));
        assert!(text.contains("| self_attn.q_proj | 3 | 16 | 1.080 | "));
        assert!(text.contains("5 (27.8×)"));
    }

    #[test]
    fn matrices_outside_blocks_are_their_own_type() {
        let head = InputRms {
            name: "lm_head".into(),
            rms: vec![1.0, 3.0],
        };
        let types = loud_features(&[head]);
        assert_eq!(types[0].matrix_type, "lm_head");
        assert_eq!(types[0].loudest[0].0, 1);
    }
}
