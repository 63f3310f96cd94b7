//! Where a process group meets: torchrun's environment, or the same facts given explicitly.

use std::net::IpAddr;
use std::time::Duration;

use crate::DistError;

/// The default timeout of the rendezvous and of every collective: 5 minutes, as PyTorch's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment variable that overrides [`DEFAULT_TIMEOUT`], in seconds (fractions allowed).
pub const TIMEOUT_VAR: &str = "TASO_DIST_TIMEOUT_S";

/// Who hosts the TCP key-value store the ranks meet through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreHost {
    /// Rank 0 hosts it on `MASTER_ADDR:MASTER_PORT` and waits for the other ranks there; the
    /// others connect. A plain launch (the tests, a hand-written script).
    Rank0,
    /// The launcher already hosts it (torchrun's elastic agent, which says so with
    /// `TORCHELASTIC_USE_AGENT_STORE=True`); every rank connects. `attempt` is
    /// `TORCHELASTIC_RESTART_COUNT` and keeps a restarted group's keys apart from the last one's.
    Launcher {
        /// The restart count of the launch.
        attempt: u32,
    },
}

/// Everything a process needs to join a group. [`DistConfig::from_env`] reads it from torchrun's
/// variables; [`DistConfig::new`] takes it from the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistConfig {
    /// This process's rank in `0..world_size` (`RANK`).
    pub rank: usize,
    /// The number of processes in the group (`WORLD_SIZE`).
    pub world_size: usize,
    /// This process's rank on its own node (`LOCAL_RANK`): which GPU it would take.
    pub local_rank: usize,
    /// The store's host (`MASTER_ADDR`): a name or an address.
    pub master_addr: String,
    /// The store's port (`MASTER_PORT`).
    pub master_port: u16,
    /// Bound on the rendezvous and on each collective (`TASO_DIST_TIMEOUT_S`).
    pub timeout: Duration,
    /// Who hosts the store.
    pub store: StoreHost,
    /// Network interfaces for Gloo's connections (`GLOO_SOCKET_IFNAME`, comma-separated, as in
    /// PyTorch). Without them Gloo binds to the loopback address when `master_addr` is a
    /// loopback one (a single-node run), else to the address this machine's hostname resolves to.
    pub gloo_interfaces: Option<String>,
}

impl DistConfig {
    /// A group of `world_size` processes meeting at `master_addr:master_port`, rank 0 hosting
    /// the store, `local_rank` equal to `rank` (one node) and the default timeout; change the
    /// public fields for anything else.
    pub fn new(
        rank: usize,
        world_size: usize,
        master_addr: impl Into<String>,
        master_port: u16,
    ) -> Self {
        Self {
            rank,
            world_size,
            local_rank: rank,
            master_addr: master_addr.into(),
            master_port,
            timeout: DEFAULT_TIMEOUT,
            store: StoreHost::Rank0,
            gloo_interfaces: None,
        }
    }

    /// Reads the process's environment; see [`DistConfig::from_vars`].
    pub fn from_env() -> Result<Option<Self>, DistError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads torchrun's variables through `var` (a lookup by name, as `std::env::var`).
    ///
    /// `Ok(None)` when the process was not launched distributed: `WORLD_SIZE` unset, or
    /// `WORLD_SIZE=1` (one process has nobody to talk to; the caller runs as it would alone).
    /// Otherwise `RANK`, `LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT` must all be set and
    /// well-formed; `TASO_DIST_TIMEOUT_S`, `GLOO_SOCKET_IFNAME`, `TORCHELASTIC_USE_AGENT_STORE`
    /// and `TORCHELASTIC_RESTART_COUNT` are optional. A `RANK` without a `WORLD_SIZE` is an
    /// error rather than a single-process run: it is a launch that lost a variable.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, DistError> {
        let Some(world) = var("WORLD_SIZE") else {
            if let Some(rank) = var("RANK") {
                return Err(bad("RANK", &rank, "set without WORLD_SIZE"));
            }
            return Ok(None);
        };
        let world_size = parse_usize("WORLD_SIZE", &world)?;
        if world_size == 0 {
            return Err(bad("WORLD_SIZE", &world, "must be at least 1"));
        }
        if world_size == 1 {
            return Ok(None);
        }
        let required = |name: &'static str| var(name).ok_or(DistError::MissingVar { var: name });
        let rank_text = required("RANK")?;
        let rank = parse_usize("RANK", &rank_text)?;
        if rank >= world_size {
            return Err(bad(
                "RANK",
                &rank_text,
                &format!("must be below WORLD_SIZE={world_size}"),
            ));
        }
        let local_rank = parse_usize("LOCAL_RANK", &required("LOCAL_RANK")?)?;
        let master_addr = required("MASTER_ADDR")?;
        if master_addr.trim().is_empty() {
            return Err(bad("MASTER_ADDR", &master_addr, "is empty"));
        }
        let port_text = required("MASTER_PORT")?;
        let master_port = match port_text.trim().parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(bad(
                    "MASTER_PORT",
                    &port_text,
                    "must be a port number in 1..=65535",
                ))
            }
            Ok(port) => port,
        };
        let timeout = match var(TIMEOUT_VAR) {
            None => DEFAULT_TIMEOUT,
            Some(text) => parse_timeout(&text)?,
        };
        let store = if var("TORCHELASTIC_USE_AGENT_STORE").as_deref() == Some("True") {
            let attempt = match var("TORCHELASTIC_RESTART_COUNT") {
                None => 0,
                Some(text) => text.trim().parse().map_err(|_| {
                    bad(
                        "TORCHELASTIC_RESTART_COUNT",
                        &text,
                        "must be a non-negative integer",
                    )
                })?,
            };
            StoreHost::Launcher { attempt }
        } else {
            StoreHost::Rank0
        };
        let gloo_interfaces = var("GLOO_SOCKET_IFNAME").filter(|names| !names.trim().is_empty());
        Ok(Some(Self {
            rank,
            world_size,
            local_rank,
            master_addr: master_addr.trim().to_owned(),
            master_port,
            timeout,
            store,
            gloo_interfaces,
        }))
    }

    /// Whether `master_addr` names this machine's loopback (`localhost`, `127.x.y.z`, `::1`).
    pub(crate) fn master_is_loopback(&self) -> bool {
        self.master_addr.eq_ignore_ascii_case("localhost")
            || self
                .master_addr
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Checks what [`DistConfig::new`] cannot: a rank inside the group, a port, a timeout.
    pub(crate) fn validate(&self) -> Result<(), DistError> {
        let invalid = |reason: String| Err(DistError::Invalid(reason));
        if self.world_size == 0 || i32::try_from(self.world_size).is_err() {
            return invalid(format!(
                "world size {} must be in 1..=i32::MAX",
                self.world_size
            ));
        }
        if self.rank >= self.world_size {
            return invalid(format!(
                "rank {} must be below the world size {}",
                self.rank, self.world_size
            ));
        }
        if self.master_port == 0 {
            return invalid(
                "master port 0: the other ranks could not know where to connect".into(),
            );
        }
        if self.master_addr.is_empty() || self.master_addr.contains('\0') {
            return invalid(format!(
                "master address {:?} is not a host name",
                self.master_addr
            ));
        }
        if self.timeout.is_zero() || i64::try_from(self.timeout.as_millis()).is_err() {
            return invalid(format!("timeout {:?} must be at least 1 ms", self.timeout));
        }
        if let Some(names) = &self.gloo_interfaces {
            if names.contains('\0') {
                return invalid(format!("Gloo interface list {names:?} contains a NUL byte"));
            }
        }
        Ok(())
    }
}

/// Parses a `TASO_DIST_TIMEOUT_S` value: a positive number of seconds.
fn parse_timeout(text: &str) -> Result<Duration, DistError> {
    let reason = "must be a positive number of seconds, e.g. 300 or 2.5";
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| bad(TIMEOUT_VAR, text, reason))?;
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) if timeout >= Duration::from_millis(1) => Ok(timeout),
        _ => Err(bad(TIMEOUT_VAR, text, reason)),
    }
}

fn parse_usize(var: &'static str, text: &str) -> Result<usize, DistError> {
    text.trim()
        .parse()
        .map_err(|_| bad(var, text, "must be a non-negative integer"))
}

fn bad(var: &'static str, value: &str, reason: &str) -> DistError {
    DistError::BadVar {
        var,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}
