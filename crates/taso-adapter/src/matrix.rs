//! One adapted matrix: its region (kept rows R, kept columns C) and its two LoRA factors,
//! checked to fit each other.

use crate::adapter::{index, MaskedLora, SparseLora};
use crate::config::LoraForm;
use crate::error::AdapterError;
use taso_artifact::MatrixRegion;
use taso_models::LinearAdapter;
use tch::{Kind, Tensor};

/// The adapter of one matrix `W ∈ R^{d_out×d_in}`: `ΔW[R, C] = s · B A`, zero elsewhere.
///
/// The factors are trainable leaves (`requires_grad`), stored in the matrix's [`LoraForm`]:
/// compact `A [r, |C|]`, `B [|R|, r]`, or masked `A [r, d_in]`, `B [d_out, r]` (zero outside C
/// and R).
#[derive(Debug)]
pub struct MatrixAdapter {
    region: MatrixRegion,
    form: LoraForm,
    a: Tensor,
    b: Tensor,
}

impl MatrixAdapter {
    /// Checks that `region` is valid (non-empty, ascending, in range) and that `a`, `b` are f32
    /// factors of rank `rank` in `form`; makes them trainable leaves (sharing their storage).
    pub fn new(
        region: MatrixRegion,
        form: LoraForm,
        rank: usize,
        a: Tensor,
        b: Tensor,
    ) -> Result<Self, AdapterError> {
        check_region(&region)?;
        let (height, width) = match form {
            LoraForm::Compact => (region.rows.len(), region.cols.len()),
            LoraForm::Masked => (region.target.d_out, region.target.d_in),
        };
        let (rank, height, width) = (rank as i64, height as i64, width as i64);
        check_factor(&region, "lora_A", &a, [rank, width])?;
        check_factor(&region, "lora_B", &b, [height, rank])?;
        Ok(Self::from_parts(region, form, a, b))
    }

    fn from_parts(region: MatrixRegion, form: LoraForm, a: Tensor, b: Tensor) -> Self {
        Self {
            region,
            form,
            a: a.detach().set_requires_grad(true),
            b: b.detach().set_requires_grad(true),
        }
    }

    /// The matrix's module path, e.g. `encoder.layer.0.attention.self.query`.
    pub fn name(&self) -> &str {
        &self.region.target.name
    }

    /// The matrix, its shape and its kept rows and columns.
    pub fn region(&self) -> &MatrixRegion {
        &self.region
    }

    /// How the factors are stored.
    pub fn form(&self) -> LoraForm {
        self.form
    }

    /// Factor A as stored (see [`form`](Self::form)); the trainable tensor itself.
    pub fn a(&self) -> &Tensor {
        &self.a
    }

    /// Factor B as stored (see [`form`](Self::form)); the trainable tensor itself.
    pub fn b(&self) -> &Tensor {
        &self.b
    }

    /// LoRA rank r.
    pub fn rank(&self) -> usize {
        self.a.size()[0] as usize
    }

    /// Free adapter parameters: `r (|R| + |C|)` (in either form).
    pub fn num_params(&self) -> usize {
        self.rank() * (self.region.rows.len() + self.region.cols.len())
    }

    /// `(A [r, |C|], B [|R|, r])`: the factors themselves in compact form, gathered from the
    /// dense ones in masked form (differentiable either way).
    pub fn compact_factors(&self) -> (Tensor, Tensor) {
        match self.form {
            LoraForm::Compact => (self.a.shallow_clone(), self.b.shallow_clone()),
            LoraForm::Masked => {
                let device = self.a.device();
                (
                    self.a.index_select(1, &index(&self.region.cols, device)),
                    self.b.index_select(0, &index(&self.region.rows, device)),
                )
            }
        }
    }

    /// `(A [r, d_in], B [d_out, r])`, zero outside C and R: the same update as a dense LoRA.
    pub fn dense_factors(&self) -> (Tensor, Tensor) {
        let (a, b) = self.compact_factors();
        let device = a.device();
        let target = &self.region.target;
        let rank = self.rank() as i64;
        let dense_a = Tensor::zeros([rank, target.d_in as i64], (Kind::Float, device)).index_copy(
            1,
            &index(&self.region.cols, device),
            &a,
        );
        let dense_b = Tensor::zeros([target.d_out as i64, rank], (Kind::Float, device)).index_copy(
            0,
            &index(&self.region.rows, device),
            &b,
        );
        (dense_a, dense_b)
    }

    /// The core block of the update, `s · B A` `[|R|, |C|]`.
    pub fn delta(&self, scale: f64) -> Tensor {
        let (a, b) = self.compact_factors();
        b.matmul(&a) * scale
    }

    /// A copy in `form`, with new leaves holding the same update.
    pub fn to_form(&self, form: LoraForm) -> Self {
        let (a, b) = tch::no_grad(|| match form {
            LoraForm::Compact => self.compact_factors(),
            LoraForm::Masked => self.dense_factors(),
        });
        Self::from_parts(self.region.clone(), form, a.copy(), b.copy())
    }

    /// The layer adapter of this matrix's form, sharing its factors.
    pub fn adapter(&self, scale: f64) -> Box<dyn LinearAdapter> {
        match self.form {
            LoraForm::Compact => Box::new(SparseLora::new(&self.region, &self.a, &self.b, scale)),
            LoraForm::Masked => Box::new(MaskedLora::new(&self.region, &self.a, &self.b, scale)),
        }
    }
}

/// Refuses empty, unsorted, repeated or out-of-range rows and columns.
pub(crate) fn check_region(region: &MatrixRegion) -> Result<(), AdapterError> {
    let target = &region.target;
    check_indices(&target.name, "rows", &region.rows, target.d_out)?;
    check_indices(&target.name, "cols", &region.cols, target.d_in)
}

fn check_indices(name: &str, what: &str, kept: &[i64], len: usize) -> Result<(), AdapterError> {
    let bad = |reason: String| {
        Err(AdapterError::BadRegions(format!(
            "`{name}`: {what} {reason}"
        )))
    };
    if kept.is_empty() {
        return bad("are empty".to_string());
    }
    if kept.windows(2).any(|pair| pair[0] >= pair[1]) {
        return bad("are not ascending and unique".to_string());
    }
    let (first, last) = (kept[0], kept[kept.len() - 1]);
    if first < 0 || last >= len as i64 {
        return bad(format!("run from {first} to {last}, outside 0..{len}"));
    }
    Ok(())
}

fn check_factor(
    region: &MatrixRegion,
    factor: &'static str,
    tensor: &Tensor,
    shape: [i64; 2],
) -> Result<(), AdapterError> {
    let (kind, size) = (tensor.kind(), tensor.size());
    if kind == Kind::Float && size == shape {
        return Ok(());
    }
    Err(AdapterError::BadFactor {
        name: region.target.name.clone(),
        factor,
        expected: format!("f32 {shape:?}"),
        found: format!("{kind:?} {size:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_artifact::Target;
    use tch::Device;

    fn region(rows: Vec<i64>, cols: Vec<i64>) -> MatrixRegion {
        let target = Target {
            name: "m".into(),
            d_out: 5,
            d_in: 4,
        };
        MatrixRegion { target, rows, cols }
    }

    fn random(shape: [i64; 2]) -> Tensor {
        Tensor::randn(shape, (Kind::Float, Device::Cpu))
    }

    /// Runs `adapter` on a zero base output, for inputs of shape `[2, 3, 4]`.
    fn update(matrix: &MatrixAdapter, x: &Tensor) -> Tensor {
        let base = Tensor::zeros([2, 3, 5], (Kind::Float, Device::Cpu));
        matrix.adapter(0.5).adapt(x, base)
    }

    #[test]
    fn the_compact_update_is_the_dense_block_update_for_any_leading_shape() {
        let compact = MatrixAdapter::new(
            region(vec![0, 3], vec![1, 2, 3]),
            LoraForm::Compact,
            2,
            random([2, 3]),
            random([2, 2]),
        )
        .unwrap();
        let x = random([6, 4]).view([2, 3, 4]);
        let (a, b) = compact.dense_factors();
        let expected = x.matmul(&a.tr()).matmul(&b.tr()) * 0.5;
        let got = update(&compact, &x);
        assert!(got.allclose(&expected, 1e-6, 1e-6, false));
        let rows = got.index_select(-1, &Tensor::from_slice(&[1i64, 2, 4]));
        assert_eq!(f64::try_from(rows.abs().max()).unwrap(), 0.0);
        let masked = compact.to_form(LoraForm::Masked);
        assert!(update(&masked, &x).allclose(&expected, 1e-6, 1e-6, false));
        let back = masked.to_form(LoraForm::Compact);
        assert!(back.a().equal(compact.a()) && back.b().equal(compact.b()));
    }

    #[test]
    fn bad_regions_and_factors_are_refused() {
        let cases = [
            (vec![], vec![0], "rows are empty"),
            (vec![1, 1], vec![0], "not ascending"),
            (vec![0, 5], vec![0], "outside 0..5"),
            (vec![0], vec![-1], "outside 0..4"),
        ];
        for (rows, cols, message) in cases {
            let err = check_region(&region(rows, cols)).unwrap_err().to_string();
            assert!(
                err.contains(message) && err.contains("taso-regions"),
                "{err}"
            );
        }
        let err = MatrixAdapter::new(
            region(vec![0], vec![0, 1]),
            LoraForm::Compact,
            2,
            random([2, 3]),
            random([1, 2]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("lora_A") && err.contains("[2, 2]"), "{err}");
    }
}
