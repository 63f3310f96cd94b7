//! Choosing where tensors live, and how many CPU threads libtorch uses.

use crate::error::{ModelError, Result};
use std::sync::Once;
use tch::Device;

/// Registers libtorch's CUDA backend, once per process.
///
/// Rust links with `--as-needed`, which drops `libtorch_cuda.so` because no symbol of it is used
/// directly; without it every CUDA tensor fails. Opening it by hand registers the backend when the
/// full torch wheel is installed and fails harmlessly on the CPU flavour, so one binary serves both.
pub fn register_cuda_backend() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let name = c"libtorch_cuda.so";
        // SAFETY: dlopen with a valid NUL-terminated name; the handle is intentionally leaked
        // so the backend stays registered for the life of the process.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            tracing::debug!("libtorch_cuda.so not loadable: CUDA devices unavailable");
        }
    });
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N` into a device, checking that it is usable.
///
/// `auto` picks the first GPU when one is usable, else the CPU.
pub fn parse_device(spec: &str) -> Result<Device> {
    register_cuda_backend();
    let err = |reason: &str| ModelError::Device {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let cuda_count = || {
        if tch::Cuda::is_available() {
            tch::Cuda::device_count()
        } else {
            0
        }
    };
    match spec {
        "auto" => Ok(if cuda_count() > 0 {
            Device::Cuda(0)
        } else {
            Device::Cpu
        }),
        "cpu" => Ok(Device::Cpu),
        _ => {
            let index = match spec.strip_prefix("cuda") {
                Some("") => 0,
                Some(rest) => rest
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| err("expected auto, cpu, cuda or cuda:N"))?,
                None => return Err(err("expected auto, cpu, cuda or cuda:N")),
            };
            let count = cuda_count();
            if index as i64 >= count {
                return Err(err(&format!(
                    "{count} CUDA device(s) usable; install the CUDA flavour of libtorch with `TASO_TORCH=cuda scripts/bootstrap.sh` on a GPU machine"
                )));
            }
            Ok(Device::Cuda(index))
        }
    }
}

/// Sets libtorch's intra-op thread count: `Some(n)` as given, `None` one per available core.
/// The first call also sizes rayon's global pool (this crate's CPU dropout draws its masks
/// there) to the same count; later calls leave the pool as it is.
pub fn set_threads(threads: Option<usize>) -> usize {
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    tch::set_num_threads(n as i32);
    // Fails only when the pool already exists (sized by an earlier call or by its first use).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_nonsense() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert!(parse_device("gpu")
            .unwrap_err()
            .to_string()
            .contains("expected auto"));
        assert!(parse_device("cuda:x").is_err());
    }

    #[test]
    fn auto_is_cpu_without_gpu() {
        if !tch::Cuda::is_available() {
            assert_eq!(parse_device("auto").unwrap(), Device::Cpu);
            assert!(parse_device("cuda:0")
                .unwrap_err()
                .to_string()
                .contains("CUDA device"));
        }
    }
}
