//! Encoding f32 values as ggml tensor data: F32, F16 and BF16 value by value, and Q8_0 with
//! llama.cpp's reference quantiser (`quantize_row_q8_0_ref`), the counterpart of [`dequantize`].
//!
//! [`dequantize`]: crate::dequantize

use half::{bf16, f16};

use crate::ggml_type::GgmlType;

/// A `Q8_0` block: 32 values `x[i] = d·qs[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Q8_0Block {
    /// Scale.
    pub d: f16,
    /// Quants.
    pub qs: [i8; 32],
}

impl Q8_0Block {
    /// Quantises 32 values as llama.cpp does: `d = amax / 127`, `q = round(x / d)` (halves away
    /// from zero, dividing by multiplying with `1 / d`), `d` stored as f16; all zeros when
    /// `amax` is 0.
    pub fn quantize(values: &[f32; 32]) -> Q8_0Block {
        let amax = values.iter().fold(0.0f32, |max, v| max.max(v.abs()));
        let d = amax / 127.0;
        let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
        Q8_0Block {
            d: f16::from_f32(d),
            qs: values.map(|x| (x * inverse).round() as i8),
        }
    }

    /// The packed bytes: `d` little-endian, then the quants.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(GgmlType::Q8_0.block_bytes());
        self.encode_into(&mut out);
        out
    }

    /// Appends the packed bytes to `out`.
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend(self.d.to_le_bytes());
        out.extend(self.qs.iter().map(|&q| q as u8));
    }

    /// The dequantised values, computed from the fields.
    pub fn values(&self) -> Vec<f32> {
        self.qs
            .iter()
            .map(|&q| self.d.to_f32() * f32::from(q))
            .collect()
    }
}

/// `values` as tensor data of type `ty`, or `None` when `ty` is not F32, F16, BF16 or Q8_0,
/// or the number of values is not a multiple of its block size. For a matrix, Q8_0 blocks
/// follow rows when the row length is a multiple of 32.
pub fn quantize(ty: GgmlType, values: &[f32]) -> Option<Vec<u8>> {
    if !values.len().is_multiple_of(ty.block_size()) {
        return None;
    }
    let mut out = Vec::with_capacity(values.len() / ty.block_size() * ty.block_bytes());
    match ty {
        GgmlType::F32 => values.iter().for_each(|v| out.extend(v.to_le_bytes())),
        GgmlType::F16 => values
            .iter()
            .for_each(|&v| out.extend(f16::from_f32(v).to_le_bytes())),
        GgmlType::BF16 => values
            .iter()
            .for_each(|&v| out.extend(bf16::from_f32(v).to_le_bytes())),
        GgmlType::Q8_0 => values.chunks_exact(32).for_each(|block| {
            Q8_0Block::quantize(block.try_into().expect("32 values")).encode_into(&mut out)
        }),
        GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q4K | GgmlType::Q6K => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dequantize;

    #[test]
    fn q8_0_follows_llama_cpps_reference() {
        let mut values = [0.0f32; 32];
        values[0] = 1.27;
        values[1] = -0.635;
        values[2] = 0.005;
        values[3] = 0.015;
        let block = Q8_0Block::quantize(&values);
        assert_eq!(block.d, f16::from_f32(0.01));
        // 1.27 / 0.01 = 127; −0.635 / 0.01 = −63.5, rounded away from zero; 0.5 → 1; 1.5 → 2.
        assert_eq!(block.qs[..5], [127, -64, 1, 2, 0]);
        let zeros = Q8_0Block::quantize(&[0.0; 32]);
        assert_eq!((zeros.d, zeros.qs), (f16::ZERO, [0; 32]));
    }

    #[test]
    fn quantize_round_trips_through_dequantize() {
        let values: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) / 17.0).collect();
        let f32_bytes = quantize(GgmlType::F32, &values).unwrap();
        assert_eq!(dequantize(GgmlType::F32, &f32_bytes), values);
        let f16_bytes = quantize(GgmlType::F16, &values).unwrap();
        let halves: Vec<f32> = values.iter().map(|&v| f16::from_f32(v).to_f32()).collect();
        assert_eq!(dequantize(GgmlType::F16, &f16_bytes), halves);
        let bf16_bytes = quantize(GgmlType::BF16, &values).unwrap();
        assert_eq!(dequantize(GgmlType::BF16, &bf16_bytes).len(), 64);
        let q8 = quantize(GgmlType::Q8_0, &values).unwrap();
        assert_eq!(q8.len(), 2 * 34);
        let back = dequantize(GgmlType::Q8_0, &q8);
        for (block, got) in values.chunks(32).zip(back.chunks(32)) {
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let bound = d / 2.0 + 127.0 * (f16::from_f32(d).to_f32() - d).abs();
            for (x, y) in block.iter().zip(got) {
                assert!((x - y).abs() <= bound * 1.0001, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn quantize_refuses_partial_blocks_and_types_it_cannot_encode() {
        assert_eq!(quantize(GgmlType::Q8_0, &[0.0; 48]), None);
        assert_eq!(quantize(GgmlType::Q4K, &[0.0; 256]), None);
    }
}
