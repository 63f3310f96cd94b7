//! Data-parallel runs: the process group a launcher such as `torchrun` started this process in
//! (see `taso-dist`), joined once per process, and the few things the stages share through it —
//! which examples or batches are this rank's, sums over the ranks, and predictions gathered from
//! every rank's share.
//!
//! The group's collectives run on the CPU (Gloo); tensors on another device travel through a
//! host copy, which for the tens of thousands of values a TASO adapter's gradients hold costs
//! little next to a training step.

use std::sync::{Mutex, PoisonError};

use taso_dist::{DistError, ProcessGroup};
use tch::{Device, Kind, Tensor};

/// This process's place in a data-parallel run.
#[derive(Debug)]
pub struct DataParallel {
    group: Mutex<ProcessGroup>,
    rank: usize,
    local_rank: usize,
    world_size: usize,
}

/// The group of this process, joined at the first call (from `RANK`, `WORLD_SIZE`,
/// `MASTER_ADDR` and `MASTER_PORT`); `None` when the process was not launched distributed.
static JOINED: Mutex<Option<Option<&'static DataParallel>>> = Mutex::new(None);

/// Joins the run's process group once per process and returns it; `None` when the process
/// was not launched distributed (no `WORLD_SIZE`, or 1). Every later call returns the same.
pub fn data_parallel() -> Result<Option<&'static DataParallel>, DistError> {
    let mut joined = JOINED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(done) = *joined {
        return Ok(done);
    }
    let group = ProcessGroup::from_env(Device::Cpu)?.map(|group| {
        let parallel = DataParallel {
            rank: group.rank(),
            local_rank: group.local_rank(),
            world_size: group.world_size(),
            group: Mutex::new(group),
        };
        &*Box::leak(Box::new(parallel))
    });
    if let Some(group) = group {
        tracing::info!("data-parallel: rank {} of {}", group.rank, group.world_size);
    }
    *joined = Some(group);
    Ok(group)
}

impl DataParallel {
    /// This process's rank, in `0..world_size()`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The device this rank computes on, given the one the config names: a plain `cuda` (or
    /// `auto` that found a GPU) means GPU `LOCAL_RANK` modulo the GPUs visible, so that
    /// `torchrun --nproc-per-node N` on an N-GPU node puts one rank on each; `cuda:N` and the
    /// CPU stay as named.
    pub fn device_for(&self, named: Device, spec: &str) -> Device {
        let gpus = || usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
        rank_device(named, spec, self.local_rank, gpus)
    }

    /// The number of processes.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// Whether this is rank 0, the one that writes the run's files.
    pub fn is_main(&self) -> bool {
        self.rank == 0
    }

    /// Whether item `index` of a list the ranks share is this rank's (round robin).
    pub fn owns(&self, index: usize) -> bool {
        index % self.world_size == self.rank
    }

    /// This rank's contiguous slice of `items` (a global batch): rank `r` of `n` gets
    /// `items[r·len/n .. (r+1)·len/n]`, so the slices in rank order are the whole batch.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let at = |rank: usize| rank * items.len() / self.world_size;
        &items[at(self.rank)..at(self.rank + 1)]
    }

    /// Replaces `tensor`, in place, by its sum over the ranks (through a CPU copy when it
    /// lives elsewhere).
    pub fn all_reduce_sum(&self, tensor: &mut Tensor) -> Result<(), DistError> {
        let group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        if tensor.device() == Device::Cpu {
            return group.all_reduce_sum(tensor);
        }
        let mut host = tensor.to_device(Device::Cpu);
        group.all_reduce_sum(&mut host)?;
        tensor.f_copy_(&host)?;
        Ok(())
    }

    /// Returns once every rank has called it.
    pub fn barrier(&self) -> Result<(), DistError> {
        let group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        group.barrier()
    }

    /// The values of every position `0..len`, each rank knowing those at `mine` (`values[k]`
    /// belongs at `mine[k]`; the ranks' positions together cover `0..len` once).
    pub fn gather_values(
        &self,
        len: usize,
        mine: &[usize],
        values: &[f64],
    ) -> Result<Vec<f64>, DistError> {
        let mut all = vec![0.0; len];
        for (&at, &value) in mine.iter().zip(values) {
            all[at] = value;
        }
        let mut tensor = Tensor::from_slice(&all);
        self.all_reduce_sum(&mut tensor)?;
        Ok(Vec::<f64>::try_from(&tensor)?)
    }

    /// Like [`DataParallel::gather_values`], for texts (a decoder's generations).
    pub fn gather_texts(
        &self,
        len: usize,
        mine: &[usize],
        texts: &[String],
    ) -> Result<Vec<String>, DistError> {
        let sizes: Vec<f64> = texts.iter().map(|t| t.len() as f64).collect();
        let sizes: Vec<usize> = self
            .gather_values(len, mine, &sizes)?
            .into_iter()
            .map(|size| size as usize)
            .collect();
        let starts: Vec<usize> = sizes
            .iter()
            .scan(0, |end, size| {
                let start = *end;
                *end += size;
                Some(start)
            })
            .collect();
        let mut bytes = vec![0u8; sizes.iter().sum()];
        for (&at, text) in mine.iter().zip(texts) {
            bytes[starts[at]..starts[at] + text.len()].copy_from_slice(text.as_bytes());
        }
        let mut tensor = Tensor::from_slice(&bytes).to_kind(Kind::Int);
        self.all_reduce_sum(&mut tensor)?;
        let bytes: Vec<u8> = Vec::<i32>::try_from(&tensor)?
            .into_iter()
            .map(|b| b as u8)
            .collect();
        Ok((0..len)
            .map(|at| {
                String::from_utf8_lossy(&bytes[starts[at]..starts[at] + sizes[at]]).into_owned()
            })
            .collect())
    }
}

/// [`DataParallel::device_for`] given the local rank and how to count the GPUs.
fn rank_device(named: Device, spec: &str, local_rank: usize, gpus: impl Fn() -> usize) -> Device {
    match named {
        Device::Cuda(0) if matches!(spec, "cuda" | "auto") => {
            Device::Cuda(local_rank % gpus().max(1))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_cuda_puts_each_local_rank_on_its_own_gpu() {
        let eight = || 8;
        assert_eq!(
            rank_device(Device::Cuda(0), "cuda", 3, eight),
            Device::Cuda(3)
        );
        assert_eq!(
            rank_device(Device::Cuda(0), "auto", 5, eight),
            Device::Cuda(5)
        );
        // More ranks than GPUs share them round robin; one GPU takes every rank.
        assert_eq!(
            rank_device(Device::Cuda(0), "cuda", 10, eight),
            Device::Cuda(2)
        );
        assert_eq!(
            rank_device(Device::Cuda(0), "cuda", 1, || 1),
            Device::Cuda(0)
        );
    }

    #[test]
    fn a_named_gpu_and_the_cpu_stay_as_named() {
        let eight = || 8;
        assert_eq!(
            rank_device(Device::Cuda(0), "cuda:0", 3, eight),
            Device::Cuda(0)
        );
        assert_eq!(
            rank_device(Device::Cuda(6), "cuda:6", 3, eight),
            Device::Cuda(6)
        );
        assert_eq!(rank_device(Device::Cpu, "cpu", 3, eight), Device::Cpu);
        assert_eq!(rank_device(Device::Cpu, "auto", 3, || 0), Device::Cpu);
    }
}
