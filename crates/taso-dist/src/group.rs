//! The process group: a c10d backend behind the C++ bridge, and the collectives on tch tensors.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::NonNull;
use std::time::Duration;

use tch::{Device, Tensor};

use crate::{DistConfig, DistError, StoreHost};

mod ffi {
    use std::ffi::{c_char, c_int, c_void};

    /// c10d's store and backend, owned by the bridge (`struct Group` in cpp/bridge.cpp).
    #[repr(C)]
    pub struct RawGroup {
        _private: [u8; 0],
    }

    // Every function catches every C++ exception: on failure it returns false (or null) and
    // sets `*err` to a malloc'd message, which the caller frees with taso_dist_free_error.
    // Tensors are passed as `at::Tensor*`, which is what tch's C_tensor is on the C++ side.
    extern "C" {
        #[allow(clippy::too_many_arguments)]
        pub fn taso_dist_new_gloo(
            host: *const c_char,
            port: u16,
            rank: c_int,
            world_size: c_int,
            timeout_ms: i64,
            agent_store: bool,
            prefix: *const c_char,
            device_kind: c_int,
            device_arg: *const c_char,
            err: *mut *mut c_char,
        ) -> *mut RawGroup;
        pub fn taso_dist_free(group: *mut RawGroup);
        pub fn taso_dist_free_error(err: *mut c_char);
        pub fn taso_dist_all_reduce_sum(
            group: *mut RawGroup,
            tensor: *mut c_void,
            err: *mut *mut c_char,
        ) -> bool;
        pub fn taso_dist_broadcast(
            group: *mut RawGroup,
            tensor: *mut c_void,
            root: c_int,
            err: *mut *mut c_char,
        ) -> bool;
        pub fn taso_dist_barrier(group: *mut RawGroup, err: *mut *mut c_char) -> bool;
    }
}

/// The collective library serving a device's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Gloo (in libtorch_cpu): CPU tensors over TCP.
    Gloo,
}

impl Backend {
    /// The backend for tensors on `device`: Gloo for the CPU. CUDA would take NCCL, which this
    /// build does not include (see the crate documentation).
    pub fn for_device(device: Device) -> Result<Self, DistError> {
        match device {
            Device::Cpu => Ok(Self::Gloo),
            other => Err(DistError::UnsupportedDevice {
                device: format!("{other:?}"),
            }),
        }
    }
}

/// A group of processes running the same program, each with its rank, that can all-reduce,
/// broadcast and wait for each other. Dropping it leaves the group.
///
/// Every process must make the same calls in the same order (as with `torch.distributed`).
/// Every call returns within the group's timeout: a peer that never arrives, dies or falls
/// out of step turns into an [`DistError`]. After such an error the group is not to be used
/// again; drop it (and, as a rule, end the process).
pub struct ProcessGroup {
    raw: NonNull<ffi::RawGroup>,
    config: DistConfig,
    device: Device,
    backend: Backend,
}

// The bridge's group is an ordinary heap object that c10d lets any one thread drive; `&self`
// methods are not safe to call from two threads at once (collectives would interleave), so the
// group is `Send` but not `Sync`.
unsafe impl Send for ProcessGroup {}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessGroup")
            .field("rank", &self.config.rank)
            .field("world_size", &self.config.world_size)
            .field("local_rank", &self.config.local_rank)
            .field("backend", &self.backend)
            .field("device", &self.device)
            .finish()
    }
}

impl ProcessGroup {
    /// Joins the group torchrun (or any launcher setting its variables) started this process
    /// in, for tensors on `device`. `Ok(None)` when the process was not launched distributed;
    /// see [`DistConfig::from_vars`] for the variables and what counts as malformed.
    pub fn from_env(device: Device) -> Result<Option<Self>, DistError> {
        match DistConfig::from_env()? {
            Some(config) => Self::new(&config, device).map(Some),
            None => Ok(None),
        }
    }

    /// Joins the group `config` describes, for tensors on `device`; blocks until every rank
    /// has arrived, or fails after `config.timeout`.
    pub fn new(config: &DistConfig, device: Device) -> Result<Self, DistError> {
        config.validate()?;
        let backend = Backend::for_device(device)?;
        let host = c_string(&config.master_addr)?;
        let (agent_store, prefix) = match config.store {
            StoreHost::Rank0 => (false, "taso-dist".to_owned()),
            StoreHost::Launcher { attempt } => (true, format!("taso-dist/attempt_{attempt}")),
        };
        let prefix = c_string(&prefix)?;
        let (device_kind, device_arg) = match &config.gloo_interfaces {
            Some(names) => (2, names.as_str()),
            None if config.master_is_loopback() => (1, config.master_addr.as_str()),
            None => (0, ""),
        };
        let device_arg = c_string(device_arg)?;
        let mut err = std::ptr::null_mut();
        // SAFETY: every pointer is a live NUL-terminated string or the error slot; the bridge
        // catches all C++ exceptions. rank and world size fit c_int (validated).
        let raw = match backend {
            Backend::Gloo => unsafe {
                ffi::taso_dist_new_gloo(
                    host.as_ptr(),
                    config.master_port,
                    config.rank as i32,
                    config.world_size as i32,
                    millis(config.timeout),
                    agent_store,
                    prefix.as_ptr(),
                    device_kind,
                    device_arg.as_ptr(),
                    &mut err,
                )
            },
        };
        match NonNull::new(raw) {
            Some(raw) => Ok(Self {
                raw,
                config: config.clone(),
                device,
                backend,
            }),
            None => Err(DistError::Rendezvous {
                rank: config.rank,
                world_size: config.world_size,
                addr: config.master_addr.clone(),
                port: config.master_port,
                message: take_error(err),
            }),
        }
    }

    /// This process's rank, in `0..world_size()`.
    pub fn rank(&self) -> usize {
        self.config.rank
    }

    /// The number of processes in the group.
    pub fn world_size(&self) -> usize {
        self.config.world_size
    }

    /// This process's rank on its node.
    pub fn local_rank(&self) -> usize {
        self.config.local_rank
    }

    /// Whether this is rank 0, the one that writes files and logs for the group.
    pub fn is_main(&self) -> bool {
        self.config.rank == 0
    }

    /// The device whose tensors the group's collectives take.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The collective library in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The bound on each collective.
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// Replaces `tensor`, in place, by the element-wise sum of every rank's `tensor` (same
    /// shape and kind on every rank). Like every collective here it writes the tensor's memory
    /// outside autograd, so a parameter that requires grad (or a view of one) is fine.
    pub fn all_reduce_sum(&self, tensor: &mut Tensor) -> Result<(), DistError> {
        self.check_tensor("all_reduce_sum", tensor)?;
        let raw = self.raw.as_ptr();
        self.call("all_reduce_sum", |err| unsafe {
            // SAFETY: a live group and a live, defined tensor handle.
            ffi::taso_dist_all_reduce_sum(raw, tensor.as_mut_ptr() as *mut c_void, err)
        })
    }

    /// Replaces `tensor`, in place, by the element-wise mean over the ranks: the sum divided by
    /// the world size (Gloo has no average of its own). `tensor` must be floating point.
    pub fn all_reduce_mean(&self, tensor: &mut Tensor) -> Result<(), DistError> {
        self.check_tensor("all_reduce_mean", tensor)?;
        if !tensor.is_floating_point() {
            return Err(DistError::Invalid(format!(
                "all_reduce_mean needs a floating-point tensor, not {:?}",
                tensor.kind()
            )));
        }
        self.all_reduce_sum(tensor)?;
        let world_size = self.config.world_size as f64;
        let _ = tch::no_grad(|| tensor.f_div_scalar_(world_size))?;
        Ok(())
    }

    /// Replaces `tensor`, in place, by rank `root`'s `tensor` (same shape and kind on every
    /// rank).
    pub fn broadcast(&self, tensor: &mut Tensor, root: usize) -> Result<(), DistError> {
        if root >= self.config.world_size {
            return Err(DistError::Invalid(format!(
                "broadcast root {root} is not a rank of a group of {}",
                self.config.world_size
            )));
        }
        self.check_tensor("broadcast", tensor)?;
        let raw = self.raw.as_ptr();
        self.call("broadcast", |err| unsafe {
            // SAFETY: a live group and a live, defined tensor handle; root < world size.
            ffi::taso_dist_broadcast(raw, tensor.as_mut_ptr() as *mut c_void, root as i32, err)
        })
    }

    /// Returns once every rank has called it (and its earlier collectives have finished).
    pub fn barrier(&self) -> Result<(), DistError> {
        let raw = self.raw.as_ptr();
        // SAFETY: a live group.
        self.call("barrier", |err| unsafe { ffi::taso_dist_barrier(raw, err) })
    }

    fn check_tensor(&self, op: &'static str, tensor: &Tensor) -> Result<(), DistError> {
        if !tensor.defined() {
            return Err(DistError::Invalid(format!("{op} of an undefined tensor")));
        }
        if tensor.device() != self.device {
            return Err(DistError::Invalid(format!(
                "{op} of a tensor on {:?}, but the group serves {:?}",
                tensor.device(),
                self.device
            )));
        }
        Ok(())
    }

    fn call(
        &self,
        op: &'static str,
        f: impl FnOnce(*mut *mut c_char) -> bool,
    ) -> Result<(), DistError> {
        let mut err = std::ptr::null_mut();
        if f(&mut err) {
            Ok(())
        } else {
            Err(DistError::Collective {
                op,
                rank: self.config.rank,
                timeout: self.config.timeout,
                message: take_error(err),
            })
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: the group was created by taso_dist_new_gloo and is freed once.
        unsafe { ffi::taso_dist_free(self.raw.as_ptr()) }
    }
}

fn c_string(text: &str) -> Result<CString, DistError> {
    CString::new(text).map_err(|_| DistError::Invalid(format!("{text:?} contains a NUL byte")))
}

fn millis(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
}

/// Takes the bridge's malloc'd message (frees it) and makes it one line.
fn take_error(err: *mut c_char) -> String {
    if err.is_null() {
        return "unknown error (no message from c10d)".to_owned();
    }
    // SAFETY: a NUL-terminated string from the bridge, freed here exactly once.
    let message = unsafe { CStr::from_ptr(err) }
        .to_string_lossy()
        .into_owned();
    unsafe { ffi::taso_dist_free_error(err) };
    one_line(&message)
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
