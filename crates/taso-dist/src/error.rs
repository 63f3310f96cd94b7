//! The one error type of the crate.

/// What can go wrong joining a group or in a collective. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// A variable torchrun sets is missing although `WORLD_SIZE` asks for a distributed run.
    #[error("{var} is not set, but WORLD_SIZE > 1 asks for a distributed run (torchrun sets RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT)")]
    MissingVar {
        /// The variable.
        var: &'static str,
    },
    /// A variable is set but malformed.
    #[error("{var}={value:?} {reason}")]
    BadVar {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request that cannot be right (a rank outside the group, a tensor on the wrong device…).
    #[error("{0}")]
    Invalid(String),
    /// No backend for the device in this build.
    #[error("no process-group backend for {device} tensors: taso-dist serves CPU tensors with Gloo; NCCL (for CUDA) is not part of this build, as the torch wheel ships no NCCL or cuBLAS headers to compile c10d's NCCL process group against; all-reduce CPU copies instead")]
    UnsupportedDevice {
        /// The device, as tch prints it.
        device: String,
    },
    /// The rendezvous failed: the store was unreachable, or a peer did not arrive in time.
    #[error("rank {rank} of {world_size} could not join the group at {addr}:{port}: {message}")]
    Rendezvous {
        /// This process's rank.
        rank: usize,
        /// The group's size.
        world_size: usize,
        /// The store's host.
        addr: String,
        /// The store's port.
        port: u16,
        /// c10d's message.
        message: String,
    },
    /// A collective failed: a peer died, timed out or sent something else.
    #[error("{op} failed on rank {rank} (timeout {timeout:?}): {message}")]
    Collective {
        /// The collective.
        op: &'static str,
        /// This process's rank.
        rank: usize,
        /// The group's timeout.
        timeout: std::time::Duration,
        /// c10d's message.
        message: String,
    },
    /// A tensor operation around a collective failed (the division of a mean).
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
