//! Seeded parameter initialisation that does not touch libtorch's global generator.
//!
//! Values are drawn in Rust from a ChaCha generator and copied into a tensor, so the same seed
//! gives the same values on every platform and device, and concurrent threads (tests, several
//! models) cannot disturb each other's draws.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use tch::{Device, Kind, Tensor};

fn draw(
    shape: &[i64],
    seed: u64,
    dist: impl Distribution<f32>,
    device: Device,
    kind: Kind,
) -> Tensor {
    let count: i64 = shape.iter().product();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..count).map(|_| dist.sample(&mut rng)).collect();
    Tensor::from_slice(&values)
        .view(shape)
        .to_kind(kind)
        .to_device(device)
}

/// `N(0, std²)` values of `shape`, drawn from `seed`.
pub fn seeded_normal(shape: &[i64], std: f64, seed: u64, device: Device, kind: Kind) -> Tensor {
    let dist = Normal::new(0.0, std as f32).expect("a finite, non-negative std");
    draw(shape, seed, dist, device, kind)
}

/// `U(-bound, bound)` values of `shape`, drawn from `seed`.
pub fn seeded_uniform(shape: &[i64], bound: f64, seed: u64, device: Device, kind: Kind) -> Tensor {
    let bound = bound as f32;
    let dist = Uniform::new_inclusive(-bound, bound).expect("a finite bound");
    draw(shape, seed, dist, device, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_values_and_right_spread() {
        let a = seeded_normal(&[64, 64], 0.5, 3, Device::Cpu, Kind::Float);
        let b = seeded_normal(&[64, 64], 0.5, 3, Device::Cpu, Kind::Float);
        assert!(a.equal(&b));
        assert!(!a.equal(&seeded_normal(&[64, 64], 0.5, 4, Device::Cpu, Kind::Float)));
        let std = f64::try_from(a.std(true)).unwrap();
        assert!((0.45..0.55).contains(&std), "{std}");
        let u = seeded_uniform(&[1000], 0.25, 1, Device::Cpu, Kind::Float);
        assert!(f64::try_from(u.abs().max()).unwrap() <= 0.25);
    }
}
