//! Dequantisation of ggml blocks to f32, in parallel over blocks.
//!
//! Block layouts (all little-endian, `f16` is an IEEE half):
//! - `Q8_0`: `d: f16`, `qs: [i8; 32]`; `x[i] = d·qs[i]`.
//! - `Q4_0`: `d: f16`, `qs: [u8; 16]`; low nibbles are elements 0..16, high nibbles 16..32;
//!   `x = d·(q − 8)`.
//! - `Q4_1`: `d: f16`, `m: f16`, `qs: [u8; 16]` (nibbles as in `Q4_0`); `x = d·q + m`.
//! - `Q4_K` (256 elements, 8 sub-blocks of 32): `d: f16`, `dmin: f16`, `scales: [u8; 12]`
//!   packing eight 6-bit scales and eight 6-bit minimums, `qs: [u8; 128]`. Each 32-byte run of
//!   `qs` holds two sub-blocks: low nibbles the first, high nibbles the second;
//!   `x = d·scale[j]·q − dmin·min[j]`.
//! - `Q6_K` (256 elements, 16 sub-blocks of 16): `ql: [u8; 128]` (low 4 bits), `qh: [u8; 64]`
//!   (high 2 bits), `scales: [i8; 16]`, `d: f16`; `x = d·scale[j]·(q − 32)`. Each half of 128
//!   elements uses 64 bytes of `ql` and 32 of `qh`: element `l + 32k` (l < 32, k < 4) takes
//!   the low (k < 2) or high (k ≥ 2) nibble of `ql[l + 32·(k mod 2)]` and bits `2k..2k+2` of
//!   `qh[l]`.

use half::{bf16, f16};
use rayon::prelude::*;

use crate::ggml_type::GgmlType;

/// Dequantises `bytes` holding whole blocks of type `ty` into f32 values.
///
/// # Panics
/// If `bytes` is not a whole number of blocks (callers size it from the tensor's shape).
pub fn dequantize(ty: GgmlType, bytes: &[u8]) -> Vec<f32> {
    let block_bytes = ty.block_bytes();
    assert!(
        bytes.len().is_multiple_of(block_bytes),
        "partial {} block",
        ty.name()
    );
    let mut out = vec![0f32; bytes.len() / block_bytes * ty.block_size()];
    let decode: fn(&[u8], &mut [f32]) = match ty {
        GgmlType::F32 => |b, x| x[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        GgmlType::F16 => |b, x| x[0] = f16::from_le_bytes([b[0], b[1]]).to_f32(),
        GgmlType::BF16 => |b, x| x[0] = bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        GgmlType::Q8_0 => q8_0,
        GgmlType::Q4_0 => q4_0,
        GgmlType::Q4_1 => q4_1,
        GgmlType::Q4K => q4_k,
        GgmlType::Q6K => q6_k,
    };
    // Scalar types decode one element per "block": hand rayon bigger pieces.
    let blocks_per_task = (4096 / ty.block_size()).max(1);
    bytes
        .par_chunks(block_bytes * blocks_per_task)
        .zip(out.par_chunks_mut(ty.block_size() * blocks_per_task))
        .for_each(|(blocks, values)| {
            for (block, x) in blocks
                .chunks_exact(block_bytes)
                .zip(values.chunks_exact_mut(ty.block_size()))
            {
                decode(block, x);
            }
        });
    out
}

fn half_at(block: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([block[at], block[at + 1]]).to_f32()
}

fn q8_0(block: &[u8], x: &mut [f32]) {
    let d = half_at(block, 0);
    for (x, &q) in x.iter_mut().zip(&block[2..34]) {
        *x = d * f32::from(q as i8);
    }
}

fn q4_0(block: &[u8], x: &mut [f32]) {
    let d = half_at(block, 0);
    for (i, &byte) in block[2..18].iter().enumerate() {
        x[i] = d * (f32::from(byte & 0x0F) - 8.0);
        x[i + 16] = d * (f32::from(byte >> 4) - 8.0);
    }
}

fn q4_1(block: &[u8], x: &mut [f32]) {
    let (d, m) = (half_at(block, 0), half_at(block, 2));
    for (i, &byte) in block[4..20].iter().enumerate() {
        x[i] = d * f32::from(byte & 0x0F) + m;
        x[i + 16] = d * f32::from(byte >> 4) + m;
    }
}

/// Scale and minimum of sub-block `j` (0..8) of a `Q4_K` block's 12 packed bytes: for
/// j < 4 the low 6 bits of bytes j and j + 4; otherwise the nibbles of byte j + 4 topped with
/// the high 2 bits of bytes j − 4 (scale) and j (minimum).
pub(crate) fn q4_k_scale_min(packed: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        let scale = (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4);
        let min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
        (scale, min)
    }
}

fn q4_k(block: &[u8], x: &mut [f32]) {
    let (d, dmin) = (half_at(block, 0), half_at(block, 2));
    let packed = &block[4..16];
    let qs = &block[16..144];
    for (pair, (bytes, values)) in qs.chunks_exact(32).zip(x.chunks_exact_mut(64)).enumerate() {
        let (low, high) = values.split_at_mut(32);
        for (half, shift, out) in [(0, 0, low), (1, 4, high)] {
            let (scale, min) = q4_k_scale_min(packed, 2 * pair + half);
            let (scale, min) = (d * f32::from(scale), dmin * f32::from(min));
            for (x, &byte) in out.iter_mut().zip(bytes) {
                *x = scale * f32::from((byte >> shift) & 0x0F) - min;
            }
        }
    }
}

fn q6_k(block: &[u8], x: &mut [f32]) {
    let (ql, rest) = block.split_at(128);
    let (qh, rest) = rest.split_at(64);
    let (scales, d) = rest.split_at(16);
    let d = half_at(d, 0);
    for half in 0..2 {
        let ql = &ql[64 * half..64 * half + 64];
        let qh = &qh[32 * half..32 * half + 32];
        let scales = &scales[8 * half..8 * half + 8];
        let values = &mut x[128 * half..128 * half + 128];
        for l in 0..32 {
            for k in 0..4 {
                let low = (ql[l + 32 * (k % 2)] >> (4 * (k / 2))) & 0x0F;
                let high = (qh[l] >> (2 * k)) & 0x03;
                let q = i32::from(low | (high << 4)) - 32;
                let scale = f32::from(scales[l / 16 + 2 * k] as i8);
                values[l + 32 * k] = d * scale * q as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Q4KBlock, Q4_0Block, Q4_1Block, Q6KBlock, Q8_0Block};

    fn h(x: f32) -> f16 {
        f16::from_f32(x)
    }

    #[test]
    fn scalar_types_decode_little_endian_bits() {
        let f32_bytes: Vec<u8> = [1.5f32, -2.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(dequantize(GgmlType::F32, &f32_bytes), [1.5, -2.25]);
        // f16 0x3C00 = 1, 0xC100 = -2.5; bf16 0x3F80 = 1, 0xC020 = -2.5.
        assert_eq!(
            dequantize(GgmlType::F16, &[0x00, 0x3C, 0x00, 0xC1]),
            [1.0, -2.5]
        );
        assert_eq!(
            dequantize(GgmlType::BF16, &[0x80, 0x3F, 0x20, 0xC0]),
            [1.0, -2.5]
        );
    }

    #[test]
    fn q8_0_is_scale_times_signed_quant() {
        let block = Q8_0Block {
            d: h(0.5),
            qs: std::array::from_fn(|i| i as i8 - 16),
        };
        let x = dequantize(GgmlType::Q8_0, &block.encode());
        assert_eq!((x[0], x[16], x[31]), (-8.0, 0.0, 7.5));
        assert_eq!(x, block.values());
    }

    #[test]
    fn q4_0_puts_low_nibbles_first_and_centres_on_8() {
        let block = Q4_0Block {
            d: h(0.25),
            qs: std::array::from_fn(|i| (i % 16) as u8),
        };
        let x = dequantize(GgmlType::Q4_0, &block.encode());
        assert_eq!((x[0], x[15], x[17]), (-2.0, 1.75, -1.75));
        assert_eq!(x, block.values());
    }

    #[test]
    fn q4_1_adds_the_minimum() {
        let block = Q4_1Block {
            d: h(0.5),
            m: h(-1.0),
            qs: std::array::from_fn(|i| ((31 - i) % 16) as u8),
        };
        let x = dequantize(GgmlType::Q4_1, &block.encode());
        assert_eq!((x[0], x[16], x[31]), (6.5, 6.5, -1.0));
        assert_eq!(x, block.values());
    }

    #[test]
    fn q4_k_unpacks_six_bit_scales_and_minimums() {
        // Scales and minimums of sub-blocks 4..8 use the high bits of the packed bytes.
        let block = Q4KBlock {
            d: h(0.5),
            dmin: h(0.25),
            scales: [1, 2, 3, 4, 17, 33, 50, 63],
            mins: [0, 1, 2, 3, 20, 40, 60, 63],
            qs: std::array::from_fn(|i| (i % 16) as u8),
        };
        let x = dequantize(GgmlType::Q4K, &block.encode());
        // x = 0.5·scale·q − 0.25·min for element (sub-block j, quant q).
        assert_eq!(x[0], 0.0);
        assert_eq!(x[33], 0.75); // j 1, q 1: 1 − 0.25
        assert_eq!(x[143], 122.5); // j 4, q 15: 127.5 − 5
        assert_eq!(x[163], 39.5); // j 5, q 3: 49.5 − 10
        assert_eq!(x[194], 35.0); // j 6, q 2: 50 − 15
        assert_eq!(x[255], 456.75); // j 7, q 15: 472.5 − 15.75
        assert_eq!(x, block.values());
    }

    #[test]
    fn q6_k_joins_low_and_high_bits_and_centres_on_32() {
        let block = Q6KBlock {
            d: h(0.5),
            scales: std::array::from_fn(|j| j as i8 - 8),
            qs: std::array::from_fn(|i| (i % 64) as u8),
        };
        let x = dequantize(GgmlType::Q6K, &block.encode());
        // x = 0.5·scale[i/16]·(q − 32).
        assert_eq!(x[0], 128.0); // scale −8, q 0
        assert_eq!(x[63], -77.5); // scale −5, q 63
        assert_eq!(x[100], -4.0); // scale −2, q 36
        assert_eq!(x[170], 10.0); // scale 2, q 42
        assert_eq!(x[200], -48.0); // scale 4, q 8
        assert_eq!(x[255], 108.5); // scale 7, q 63
        assert_eq!(x, block.values());
    }

    #[test]
    fn blocks_decode_in_order_across_parallel_pieces() {
        // More blocks than one rayon piece holds (4096 / 32 = 128).
        let blocks: Vec<Q8_0Block> = (0..300)
            .map(|b| Q8_0Block {
                d: h(1.0 + b as f32),
                qs: std::array::from_fn(|i| i as i8),
            })
            .collect();
        let bytes: Vec<u8> = blocks.iter().flat_map(Q8_0Block::encode).collect();
        let expected: Vec<f32> = blocks.iter().flat_map(Q8_0Block::values).collect();
        assert_eq!(dequantize(GgmlType::Q8_0, &bytes), expected);
    }
}
