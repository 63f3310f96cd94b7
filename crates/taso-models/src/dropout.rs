//! Dropout with its keep mask drawn on every intra-op thread.
//!
//! libtorch's CPU dropout draws the mask one element at a time on one thread (a Mersenne
//! twister behind a lock; its vectorised MKL path is taken on Intel processors only), which
//! costs about a tenth of an encoder's training step on two cores while the other thread waits
//! (docs/results.md, "Training against PyTorch + PEFT"). Here an f32 CPU tensor gets its mask
//! from ChaCha8 streams, one per fixed-size chunk, filled in parallel; the stream key is one
//! draw from libtorch's generator, so `tch::manual_seed` still fixes every mask (a seeded
//! step, an activation-checkpointed block's recomputation) and the chunking keeps the mask
//! independent of the thread count; a bf16 or f16 tensor gets the same mask as an f32 one.
//! Other devices take libtorch's own dropout (on a GPU it is a fused kernel).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

/// Elements per ChaCha stream: the unit of parallel work.
const CHUNK: usize = 1 << 16;

/// `x` with each element zeroed with probability `p` and the others scaled by `1 / (1 - p)`
/// when `train`; `x` itself otherwise. The mask is saved for the backward pass as libtorch's
/// CPU dropout saves it (a tensor of `x`'s kind holding 0 and `1 / (1 - p)`).
pub(crate) fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p <= 0.0 {
        return x.shallow_clone();
    }
    if x.device() != Device::Cpu || p >= 1.0 {
        return x.dropout(p, train);
    }
    let key = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]);
    // `to_kind` is the tensor itself for f32; bf16 and f16 get the mask in their kind.
    x * keep_noise(&x.size(), 1.0 - p, key as u64).to_kind(x.kind())
}

/// A fresh f32 tensor of `size` holding `1 / keep` with probability `keep` and 0 otherwise.
fn keep_noise(size: &[i64], keep: f64, key: u64) -> Tensor {
    let noise = Tensor::empty(size, (Kind::Float, Device::Cpu));
    let len = noise.numel();
    if len == 0 {
        return noise;
    }
    // A u32 draw below `threshold` keeps its element (probability keep, to 2^-32).
    let threshold = (keep * 4_294_967_296.0) as u64;
    let kept = (1.0 / keep) as f32;
    // SAFETY: `noise` is a fresh, contiguous f32 CPU tensor of `len` elements that nothing
    // else refers to until this function returns it.
    let values = unsafe { std::slice::from_raw_parts_mut(noise.data_ptr() as *mut f32, len) };
    values
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(index, chunk)| {
            let mut rng = ChaCha8Rng::seed_from_u64(key);
            rng.set_stream(index as u64);
            for value in chunk {
                *value = match u64::from(rng.next_u32()) < threshold {
                    true => kept,
                    false => 0.0,
                };
            }
        });
    noise
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(shape: &[i64]) -> Tensor {
        Tensor::ones(shape, (Kind::Float, Device::Cpu))
    }

    #[test]
    fn keeps_each_element_with_probability_one_minus_p_and_rescales_it() {
        let out = dropout(&input(&[64, 1000, 10]), 0.1, true);
        let kept = out
            .ne(0.0)
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]);
        // 640,000 draws: the kept fraction lies within 5 standard deviations of 0.9.
        assert!(
            (kept - 0.9).abs() < 5.0 * (0.09f64 / 640_000.0).sqrt(),
            "{kept}"
        );
        let values = Vec::<f32>::try_from(out.flatten(0, -1)).unwrap();
        assert!(values
            .iter()
            .all(|&v| v == 0.0 || v == (1.0 / 0.9f64) as f32));
    }

    #[test]
    fn the_key_fixes_the_mask_and_other_keys_draw_others() {
        let size = [3, CHUNK as i64 + 7];
        let first = keep_noise(&size, 0.5, 11);
        assert!(keep_noise(&size, 0.5, 11).equal(&first));
        assert!(!keep_noise(&size, 0.5, 12).equal(&first));
    }

    #[test]
    fn the_mask_does_not_depend_on_the_thread_count() {
        let in_pool = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| keep_noise(&[5, CHUNK as i64], 0.7, 5))
        };
        assert!(in_pool(1).equal(&in_pool(3)));
    }

    #[test]
    fn the_gradient_passes_the_kept_elements_only_rescaled() {
        let x = Tensor::randn([4, 300], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let out = dropout(&x, 0.25, true);
        out.sum(Kind::Float).backward();
        let expected = out.ne(0.0).to_kind(Kind::Float) / 0.75;
        assert!(x.grad().allclose(&expected, 1e-6, 0.0, false));
    }

    #[test]
    fn evaluation_half_precision_and_p_one_keep_libtorch_semantics() {
        let x = input(&[10, 10]);
        assert!(dropout(&x, 0.5, false).equal(&x));
        assert!(dropout(&x, 0.0, true).equal(&x));
        assert_eq!(
            dropout(&x, 1.0, true)
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
        let half = x.to_kind(Kind::BFloat16);
        assert_eq!(dropout(&half, 0.5, true).kind(), Kind::BFloat16);
    }
}
