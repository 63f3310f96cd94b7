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
    assert_eq!(bytes.len() % block_bytes, 0, "partial {} block", ty.name());
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
