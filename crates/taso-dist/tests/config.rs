//! torchrun's environment read into a `DistConfig`: what is a distributed launch, what is a
//! malformed one (one clear line naming the variable), and requests refused before any network.

use std::collections::HashMap;
use std::time::Duration;

use taso_dist::{DistConfig, DistError, ProcessGroup, StoreHost, DEFAULT_TIMEOUT};
use tch::Device;

fn read(vars: &[(&str, &str)]) -> Result<Option<DistConfig>, DistError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    DistConfig::from_vars(|name| vars.get(name).cloned())
}

const TORCHRUN: [(&str, &str); 5] = [
    ("WORLD_SIZE", "4"),
    ("RANK", "3"),
    ("LOCAL_RANK", "1"),
    ("MASTER_ADDR", "10.1.2.3"),
    ("MASTER_PORT", "29500"),
];

fn with(changes: &[(&'static str, Option<&'static str>)]) -> Vec<(&'static str, &'static str)> {
    let mut vars: Vec<_> = TORCHRUN.to_vec();
    for (name, value) in changes {
        vars.retain(|(k, _)| k != name);
        if let Some(value) = value {
            vars.push((name, value));
        }
    }
    vars
}

fn error_of(vars: &[(&str, &str)]) -> String {
    let message = read(vars)
        .expect_err("a malformed environment must be an error")
        .to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

#[test]
fn not_distributed_without_world_size_or_with_one_process() {
    assert_eq!(read(&[]).unwrap(), None);
    assert_eq!(read(&[("WORLD_SIZE", "1"), ("RANK", "0")]).unwrap(), None);
    // Only WORLD_SIZE decides; other variables alone do not make a launch.
    assert_eq!(
        read(&[("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "1")]).unwrap(),
        None
    );
}

#[test]
fn torchrun_variables_map_to_the_config() {
    let config = read(&TORCHRUN).unwrap().unwrap();
    assert_eq!(
        config,
        DistConfig {
            rank: 3,
            world_size: 4,
            local_rank: 1,
            master_addr: "10.1.2.3".into(),
            master_port: 29500,
            timeout: DEFAULT_TIMEOUT,
            store: StoreHost::Rank0,
            gloo_interfaces: None,
        }
    );
    let agent = read(&with(&[
        ("TORCHELASTIC_USE_AGENT_STORE", Some("True")),
        ("TORCHELASTIC_RESTART_COUNT", Some("2")),
        ("TASO_DIST_TIMEOUT_S", Some("2.5")),
        ("GLOO_SOCKET_IFNAME", Some("eth0,eth1")),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(agent.store, StoreHost::Launcher { attempt: 2 });
    assert_eq!(agent.timeout, Duration::from_millis(2500));
    assert_eq!(agent.gloo_interfaces.as_deref(), Some("eth0,eth1"));
    let plain = read(&with(&[("TORCHELASTIC_USE_AGENT_STORE", Some("False"))]))
        .unwrap()
        .unwrap();
    assert_eq!(plain.store, StoreHost::Rank0);
}

#[test]
fn an_incomplete_environment_names_the_missing_variable() {
    for var in ["RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"] {
        let message = error_of(&with(&[(var, None)]));
        assert!(
            message.starts_with(&format!("{var} is not set")),
            "{message}"
        );
    }
    let message = error_of(&[("RANK", "0")]);
    assert!(
        message.contains("RANK=\"0\" set without WORLD_SIZE"),
        "{message}"
    );
}

#[test]
fn a_malformed_environment_names_the_variable_and_the_problem() {
    let cases: [(&'static str, &'static str, &str); 9] = [
        ("WORLD_SIZE", "two", "non-negative integer"),
        ("WORLD_SIZE", "0", "at least 1"),
        ("RANK", "-1", "non-negative integer"),
        ("RANK", "4", "below WORLD_SIZE=4"),
        ("LOCAL_RANK", "x", "non-negative integer"),
        ("MASTER_ADDR", " ", "empty"),
        ("MASTER_PORT", "70000", "1..=65535"),
        ("MASTER_PORT", "0", "1..=65535"),
        ("TASO_DIST_TIMEOUT_S", "-3", "positive number of seconds"),
    ];
    for (var, value, reason) in cases {
        let message = error_of(&with(&[(var, Some(value))]));
        assert!(
            message.starts_with(&format!("{var}={value:?}")),
            "{message}"
        );
        assert!(message.contains(reason), "{message}");
    }
    for value in ["0", "nan", "inf", ""] {
        let message = error_of(&with(&[("TASO_DIST_TIMEOUT_S", Some(value))]));
        assert!(message.starts_with("TASO_DIST_TIMEOUT_S="), "{message}");
    }
    let message = error_of(&with(&[
        ("TORCHELASTIC_USE_AGENT_STORE", Some("True")),
        ("TORCHELASTIC_RESTART_COUNT", Some("a")),
    ]));
    assert!(
        message.starts_with("TORCHELASTIC_RESTART_COUNT=\"a\""),
        "{message}"
    );
}

#[test]
fn impossible_requests_are_refused_before_any_network() {
    let refused = |config: &DistConfig, device| {
        ProcessGroup::new(config, device)
            .expect_err("refused")
            .to_string()
    };
    let cpu = Device::Cpu;
    // Port 9 (discard) is never contacted: each request fails its checks first.
    let message = refused(&DistConfig::new(2, 2, "127.0.0.1", 9), cpu);
    assert!(
        message.contains("rank 2 must be below the world size 2"),
        "{message}"
    );
    let message = refused(&DistConfig::new(0, 0, "127.0.0.1", 9), cpu);
    assert!(message.contains("world size 0"), "{message}");
    let message = refused(&DistConfig::new(0, 2, "127.0.0.1", 0), cpu);
    assert!(message.contains("master port 0"), "{message}");
    let mut zero = DistConfig::new(0, 2, "127.0.0.1", 9);
    zero.timeout = Duration::ZERO;
    let message = refused(&zero, cpu);
    assert!(message.contains("timeout"), "{message}");
    let message = refused(&DistConfig::new(0, 2, "127.0.0.1", 9), Device::Cuda(0));
    assert!(
        message.contains("no process-group backend for Cuda(0)"),
        "{message}"
    );
    assert!(message.contains("NCCL"), "{message}");
}
