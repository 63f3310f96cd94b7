//! Data-parallel communication for taso: a bridge from tch tensors to PyTorch's own distributed
//! engine (c10d, compiled into `libtorch_cpu.so`), so that several processes can sum their
//! gradients and agree on their weights. It knows nothing of TASO or of any stage.
//!
//! - [`ProcessGroup::from_env`] joins the group a launcher (torchrun) started the process in;
//!   [`ProcessGroup::new`] takes the same facts as a [`DistConfig`].
//! - [`ProcessGroup::all_reduce_sum`], [`ProcessGroup::all_reduce_mean`] and
//!   [`ProcessGroup::broadcast`] work in place on a [`tch::Tensor`];
//!   [`ProcessGroup::barrier`] waits for every rank.
//! - Everything is bounded by a timeout: a peer that never arrives or dies is a [`DistError`],
//!   not a hang.
//!
//! ```no_run
//! use tch::{Device, Tensor};
//! # fn main() -> Result<(), taso_dist::DistError> {
//! if let Some(group) = taso_dist::ProcessGroup::from_env(Device::Cpu)? {
//!     let mut grad = Tensor::from_slice(&[1.0f32, 2.0]) * (group.rank() as f64 + 1.0);
//!     group.all_reduce_mean(&mut grad)?; // the same on every rank
//!     if group.is_main() {
//!         println!("mean over {} ranks: {grad}", group.world_size());
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # torchrun's environment
//!
//! | variable | meaning | here |
//! |---|---|---|
//! | `WORLD_SIZE` | number of processes | unset or `1`: not distributed, `from_env` gives `Ok(None)` |
//! | `RANK` | this process, `0..WORLD_SIZE` | [`ProcessGroup::rank`]; required when `WORLD_SIZE > 1` |
//! | `LOCAL_RANK` | this process on its node | [`ProcessGroup::local_rank`] (which GPU it would use); required |
//! | `MASTER_ADDR`, `MASTER_PORT` | where the ranks meet | the TCP store's address; required |
//! | `TORCHELASTIC_USE_AGENT_STORE=True` | torchrun's agent already hosts the store there | every rank connects as a client; else rank 0 hosts it |
//! | `TORCHELASTIC_RESTART_COUNT` | restart attempt | keeps a restarted group's keys apart |
//! | `GLOO_SOCKET_IFNAME` | network interfaces for Gloo | as in PyTorch; without it Gloo binds to loopback when `MASTER_ADDR` is a loopback address, else to the address of this machine's hostname |
//! | `TASO_DIST_TIMEOUT_S` | ours: the timeout in seconds | default 300 ([`DEFAULT_TIMEOUT`]) |
//!
//! A missing or malformed variable is a one-line [`DistError`] naming it. The store keys of the
//! group live under `taso-dist/`, apart from the launcher's own.
//!
//! # Timeouts
//!
//! The one timeout of a [`DistConfig`] bounds the TCP store (connecting to it, and rank 0
//! waiting for every rank to connect), the Gloo rendezvous (exchanging addresses through the
//! store), and every collective (Gloo's own timeout and the wait on the result). A collective
//! whose peer has died usually fails at once (the connection closes); one whose peer is alive
//! but elsewhere in its program fails after the timeout. Every C++ exception is caught in the
//! bridge and comes back as the message of a [`DistError`]; none unwinds into Rust.
//!
//! # Backends
//!
//! CPU tensors go through Gloo. CUDA tensors would go through NCCL, by the same path with
//! `ProcessGroupNCCL` in place of `ProcessGroupGloo`; this build does not include it, and
//! [`ProcessGroup::new`] refuses a CUDA device with [`DistError::UnsupportedDevice`]. c10d's
//! NCCL header needs `nccl.h` and, through ATen's CUDA context, the cuBLAS, cuSPARSE and
//! cuSOLVER headers, none of which the CPU flavour of the torch wheel installs, and its
//! `Options` embed NCCL's own config struct by value, so no stand-in can replace them. Nothing
//! of that path has been compiled or run.
//!
//! # The Gloo shim
//!
//! The torch wheel ships c10d's headers but not Gloo's, which `ProcessGroupGloo.hpp` includes.
//! `cpp/gloo-shim/` holds our own minimal declarations of the five Gloo types that header
//! names. It holds each of them only through `std::shared_ptr`, `std::unique_ptr` or a
//! `std::vector` of `shared_ptr`, so the layout of the two objects the bridge allocates
//! (`ProcessGroupGloo` and its `Options`) does not depend on them, and the bridge never
//! creates, calls or destroys a Gloo object itself: it only passes on a device that
//! `libtorch_cpu.so` created. The compiled bridge neither defines nor references any symbol of
//! namespace `gloo` (checked with `nm -C` on its object; the only code naming a Gloo type is
//! `std::vector` and `std::shared_ptr` plumbing for `shared_ptr<gloo::transport::Device>`).
//! `cpp/gloo-shim/README.md` has the details.
//!
//! # Launching
//!
//! `torchrun --no-python --nproc-per-node 2 PROGRAM` (see `examples/allreduce.rs` and
//! `docs/distributed.md`, which also has the multi-node form). torchrun needs a Python that can
//! import torch, which the cpu flavour of `scripts/bootstrap.sh` cannot; `scripts/dist-run.sh`
//! stands in for it on one machine.

mod config;
mod error;
mod group;

pub use config::{DistConfig, StoreHost, DEFAULT_TIMEOUT, TIMEOUT_VAR};
pub use error::DistError;
pub use group::{Backend, ProcessGroup};
