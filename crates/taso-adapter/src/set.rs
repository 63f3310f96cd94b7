//! [`AdapterSet`]: the adapters of a whole model — initialisation, attaching to a model,
//! parameter counts, merging into the base weights.

use crate::adapter::index;
use crate::config::{InitFanIn, LoraConfig, LoraForm, Scaling};
use crate::error::AdapterError;
use crate::matrix::{check_region, MatrixAdapter};
use std::collections::{HashMap, HashSet};
use taso_artifact::Regions;
use taso_models::{Linear, LinearHost};
use tch::{Device, Kind, Tensor};

/// The sparse LoRA adapters of one model, one [`MatrixAdapter`] per adapted matrix, in model
/// order, all of one rank, scale and [`LoraForm`].
#[derive(Debug)]
pub struct AdapterSet {
    scaling: Scaling,
    form: LoraForm,
    matrices: Vec<MatrixAdapter>,
}

impl AdapterSet {
    /// Fresh adapters on `regions`, as LoRA/PEFT initialise them: B = 0 (so the adapted model
    /// equals the base model at step 0) and A Kaiming-uniform with `a = √5`, i.e. uniform in
    /// `±1/√fan_in`. With `config.init_fan_in` = `kept` (default), `fan_in = |C|`, A's own input
    /// size (a dense LoRA's A, fan-in `d_in`, is the special case C = all columns), which keeps
    /// the spread of `A x[C]` independent of how many columns are kept; with `input`, `fan_in =
    /// d_in`, the bound of a PEFT LoRA on the whole matrix.
    ///
    /// Each matrix's A is drawn from its own seed, derived from `seed` and the matrix's position
    /// in model order, with [`taso_models::init`] (not libtorch's global generator), so every
    /// device and thread gets the same values. The set is in `config.form`.
    pub fn init(
        regions: &Regions,
        config: &LoraConfig,
        seed: u64,
        device: Device,
    ) -> Result<Self, AdapterError> {
        config.validate()?;
        let scaling = config.scaling(regions.rank);
        // Before drawing: an empty C would make the Kaiming bound infinite.
        regions.matrices.iter().try_for_each(check_region)?;
        let rank = scaling.rank as i64;
        let matrices = regions
            .matrices
            .iter()
            .enumerate()
            .map(|(position, region)| {
                let a_seed = seed.wrapping_mul(1_000_003).wrapping_add(position as u64);
                let fan_in = match config.init_fan_in {
                    InitFanIn::Kept => region.cols.len(),
                    InitFanIn::Input => region.target.d_in,
                };
                let a = kaiming_uniform(rank, region.cols.len() as i64, fan_in, a_seed, device);
                let b = Tensor::zeros([region.rows.len() as i64, rank], (Kind::Float, device));
                let compact =
                    MatrixAdapter::new(region.clone(), LoraForm::Compact, scaling.rank, a, b)?;
                Ok(match config.form {
                    LoraForm::Compact => compact,
                    LoraForm::Masked => compact.to_form(LoraForm::Masked),
                })
            })
            .collect::<Result<Vec<_>, AdapterError>>()?;
        Self::new(scaling, config.form, matrices)
    }

    /// A set from checked matrices, all in `form` and of rank `scaling.rank`; refuses an empty
    /// set and a matrix named twice.
    pub fn new(
        scaling: Scaling,
        form: LoraForm,
        matrices: Vec<MatrixAdapter>,
    ) -> Result<Self, AdapterError> {
        check_rank(scaling.rank)?;
        if matrices.is_empty() {
            return Err(AdapterError::BadRegions("no matrix is adapted".to_string()));
        }
        let mut names = HashSet::new();
        for m in &matrices {
            if m.form() != form || m.rank() != scaling.rank {
                return Err(AdapterError::BadRegions(format!(
                    "`{}` is a rank-{} {:?} adapter in a rank-{} {form:?} set",
                    m.name(),
                    m.rank(),
                    m.form(),
                    scaling.rank
                )));
            }
            if !names.insert(m.name()) {
                return Err(AdapterError::BadRegions(format!(
                    "`{}` is adapted twice",
                    m.name()
                )));
            }
        }
        Ok(Self {
            scaling,
            form,
            matrices,
        })
    }

    /// A copy in `form` (new, independent trainable tensors holding the same update).
    pub fn to_form(&self, form: LoraForm) -> Self {
        Self {
            scaling: self.scaling,
            form,
            matrices: self.matrices.iter().map(|m| m.to_form(form)).collect(),
        }
    }

    /// The adapted matrices, in model order.
    pub fn matrices(&self) -> &[MatrixAdapter] {
        &self.matrices
    }

    /// Rank, α and rslora.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    /// The scale `s` of `ΔW = s · B A`.
    pub fn scale(&self) -> f64 {
        self.scaling.scale()
    }

    /// How the factors are stored and applied.
    pub fn form(&self) -> LoraForm {
        self.form
    }

    /// The trainable tensors `[A₀, B₀, A₁, B₁, …]` in model order (shallow copies of the
    /// tensors the attached adapters use; `requires_grad` is set).
    pub fn trainable(&self) -> Vec<Tensor> {
        self.matrices
            .iter()
            .flat_map(|m| [m.a().shallow_clone(), m.b().shallow_clone()])
            .collect()
    }

    /// Free adapter parameters `P_sparse = Σ r (|R| + |C|)` (the same in either form: masked
    /// entries are not free).
    pub fn num_params(&self) -> usize {
        self.matrices.iter().map(MatrixAdapter::num_params).sum()
    }

    /// Parameters of a dense rank-`rank` LoRA on the same matrices: `rank · Σ (d_out + d_in)`
    /// (`P_dense(r)` of the trainer's learning-rate scaling).
    pub fn dense_equivalent_params(&self, rank: usize) -> usize {
        let sizes: usize = self
            .matrices
            .iter()
            .map(|m| m.region().target.d_out + m.region().target.d_in)
            .sum();
        rank * sizes
    }

    /// Attaches each adapter to the linear layer of its name (replacing any adapter there),
    /// sharing the trainable tensors. Checks every matrix against the model first, so on error
    /// nothing is attached.
    pub fn attach(&self, host: &mut dyn LinearHost) -> Result<(), AdapterError> {
        self.check_fits(host)?;
        for m in &self.matrices {
            linear_mut(host, m.name())?.set_adapter(Some(m.adapter(self.scale())));
        }
        Ok(())
    }

    /// Removes the adapters from the layers this set adapts.
    pub fn detach(&self, host: &mut dyn LinearHost) -> Result<(), AdapterError> {
        self.detach_where(host, |_| true)
    }

    /// Removes the adapters of the matrices whose names `which` picks, leaving the others
    /// attached (e.g. to see what one matrix type's adapters contribute); [`attach`](Self::attach)
    /// puts them all back.
    pub fn detach_where(
        &self,
        host: &mut dyn LinearHost,
        which: impl Fn(&str) -> bool,
    ) -> Result<(), AdapterError> {
        for m in self.matrices.iter().filter(|m| which(m.name())) {
            linear_mut(host, m.name())?.set_adapter(None);
        }
        Ok(())
    }

    /// Adds the update into the base weights, `W[R, C] += s · B A` (only the core block
    /// changes), so that the model without adapters computes what the adapted model did.
    /// The adapters must be detached.
    pub fn merge_into(&self, host: &mut dyn LinearHost) -> Result<(), AdapterError> {
        self.add_to_weights(host, self.scale())
    }

    /// Undoes [`merge_into`](Self::merge_into): `W[R, C] -= s · B A`.
    pub fn unmerge_from(&self, host: &mut dyn LinearHost) -> Result<(), AdapterError> {
        self.add_to_weights(host, -self.scale())
    }

    fn add_to_weights(&self, host: &mut dyn LinearHost, scale: f64) -> Result<(), AdapterError> {
        self.check_fits(host)?;
        if let Some(busy) = host
            .linears()
            .iter()
            .find(|l| l.adapter().is_some() && self.matrices.iter().any(|m| m.name() == l.name()))
        {
            return Err(AdapterError::AttachedWhileMerging(busy.name().to_string()));
        }
        let _no_grad = tch::no_grad_guard();
        for m in &self.matrices {
            let weight = &mut linear_mut(host, m.name())?.weight;
            let device = weight.device();
            let delta = m.delta(scale).to_device(device).to_kind(weight.kind());
            let rows = index(&m.region().rows, device).unsqueeze(1);
            let cols = index(&m.region().cols, device).unsqueeze(0);
            let _ = weight.index_put_(&[Some(rows), Some(cols)], &delta, true);
        }
        Ok(())
    }

    /// The same set with its matrices in the order of `host`'s linear layers (model order);
    /// matrices the host lacks keep their order after the others.
    pub fn in_model_order(mut self, host: &dyn LinearHost) -> Self {
        let order: HashMap<&str, usize> = host
            .linears()
            .into_iter()
            .enumerate()
            .map(|(position, l)| (l.name(), position))
            .collect();
        self.matrices
            .sort_by_key(|m| order.get(m.name()).copied().unwrap_or(usize::MAX));
        self
    }

    /// Checks that the model has every adapted matrix, with the shape its region records.
    pub fn check_fits(&self, host: &dyn LinearHost) -> Result<(), AdapterError> {
        let shapes: HashMap<&str, (i64, i64)> = host
            .linears()
            .into_iter()
            .map(|l| (l.name(), (l.d_out(), l.d_in())))
            .collect();
        for m in &self.matrices {
            let target = &m.region().target;
            let &(found_out, found_in) = shapes
                .get(target.name.as_str())
                .ok_or_else(|| AdapterError::UnknownMatrix(target.name.clone()))?;
            if (found_out, found_in) != (target.d_out as i64, target.d_in as i64) {
                return Err(AdapterError::ShapeMismatch {
                    name: target.name.clone(),
                    d_out: target.d_out,
                    d_in: target.d_in,
                    found_out,
                    found_in,
                });
            }
        }
        Ok(())
    }
}

fn check_rank(rank: usize) -> Result<(), AdapterError> {
    if rank == 0 {
        return Err(AdapterError::BadRegions("the rank is 0".to_string()));
    }
    Ok(())
}

fn linear_mut<'a>(
    host: &'a mut dyn LinearHost,
    name: &str,
) -> Result<&'a mut Linear, AdapterError> {
    host.linear_mut(name)
        .map_err(|_| AdapterError::UnknownMatrix(name.to_string()))
}

/// `[rank, cols]` uniform in `±1/√fan_in`: Kaiming-uniform with `a = √5`, as `nn.Linear`
/// and PEFT initialise LoRA's A (whose fan-in is its column count unless told otherwise).
fn kaiming_uniform(rank: i64, cols: i64, fan_in: usize, seed: u64, device: Device) -> Tensor {
    let bound = 1.0 / (fan_in as f64).sqrt();
    taso_models::init::seeded_uniform(&[rank, cols], bound, seed, device, Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_artifact::{MatrixRegion, Target};

    fn regions() -> Regions {
        let target = |name: &str, d_out, d_in| Target {
            name: name.into(),
            d_out,
            d_in,
        };
        let targets = vec![target("m0", 6, 5), target("m1", 4, 9)];
        let matrices = vec![
            MatrixRegion {
                target: targets[0].clone(),
                rows: vec![1, 4],
                cols: vec![0, 2, 3],
            },
            MatrixRegion {
                target: targets[1].clone(),
                rows: vec![0, 1, 2, 3],
                cols: (0..9).collect(),
            },
        ];
        Regions {
            targets,
            matrices,
            rank: 3,
            budget: 0,
            coverage: Vec::new(),
        }
    }

    fn init(seed: u64) -> AdapterSet {
        AdapterSet::init(&regions(), &LoraConfig::default(), seed, Device::Cpu).unwrap()
    }

    #[test]
    fn init_draws_a_within_the_kaiming_bound_and_b_zero() {
        let set = init(1);
        for m in set.matrices() {
            let bound = 1.0 / (m.region().cols.len() as f64).sqrt();
            let largest = f64::try_from(m.a().abs().max()).unwrap();
            assert!(
                largest <= bound && largest > bound / 2.0,
                "{largest} vs {bound}"
            );
            assert_eq!(f64::try_from(m.b().abs().max()).unwrap(), 0.0);
            assert!(m.a().requires_grad() && m.b().requires_grad());
        }
        assert_eq!(set.trainable().len(), 4);
    }

    #[test]
    fn input_fan_in_scales_the_same_draws_down_to_the_whole_matrix_bound() {
        let input = LoraConfig {
            init_fan_in: InitFanIn::Input,
            ..LoraConfig::default()
        };
        let wide = AdapterSet::init(&regions(), &input, 1, Device::Cpu).unwrap();
        for (kept, wide) in init(1).matrices().iter().zip(wide.matrices()) {
            let region = kept.region();
            let ratio = (region.target.d_in as f64 / region.cols.len() as f64).sqrt();
            let scaled_back = wide.a() * ratio;
            assert!(scaled_back.allclose(kept.a(), 1e-6, 1e-7, false));
            let largest = f64::try_from(wide.a().abs().max()).unwrap();
            assert!(largest <= 1.0 / (region.target.d_in as f64).sqrt());
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_a_and_another_seed_another() {
        let (first, again, other) = (init(7), init(7), init(8));
        for ((x, y), z) in first
            .matrices()
            .iter()
            .zip(again.matrices())
            .zip(other.matrices())
        {
            assert!(x.a().equal(y.a()));
            assert!(!x.a().equal(z.a()));
        }
    }

    #[test]
    fn parameters_are_counted_sparse_and_dense() {
        let set = init(0);
        assert_eq!(set.num_params(), 3 * (2 + 3) + 3 * (4 + 9));
        assert_eq!(set.dense_equivalent_params(3), 3 * (6 + 5 + 4 + 9));
        assert_eq!(set.to_form(LoraForm::Masked).num_params(), set.num_params());
    }

    #[test]
    fn rank_zero_and_an_empty_set_are_refused() {
        let mut regions = regions();
        regions.rank = 0;
        let err = AdapterSet::init(&regions, &LoraConfig::default(), 0, Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("rank is 0"), "{err}");
        regions.rank = 2;
        regions.matrices.clear();
        let err = AdapterSet::init(&regions, &LoraConfig::default(), 0, Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("no matrix"), "{err}");
    }
}
