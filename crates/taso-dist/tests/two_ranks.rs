//! Real process groups: this test binary starts copies of itself as ranks on 127.0.0.1 (the
//! ignored `rank` test, told its scenario by TASO_DIST_SCENARIO and its place by torchrun's
//! variables), each on a free port and each killed if it outlives CHILD_LIMIT.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use taso_dist::{DistError, ProcessGroup};
use tch::{Device, Kind, Tensor};

/// No rank may run longer than this, whatever happens.
const CHILD_LIMIT: Duration = Duration::from_secs(60);
/// The timeout of the scenarios that expect a failure.
const SHORT_TIMEOUT_S: &str = "3";
const SCENARIO: &str = "TASO_DIST_SCENARIO";

/// A port nobody listens on right now (the OS's pick for port 0), so parallel tests do not meet.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Rank {
    rank: usize,
    child: Child,
    log: tempfile::NamedTempFile,
}

fn spawn(scenario: &str, rank: usize, world: usize, port: u16, timeout_s: &str) -> Rank {
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "rank",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO, scenario)
        .env("RANK", rank.to_string())
        .env("LOCAL_RANK", rank.to_string())
        .env("WORLD_SIZE", world.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .env("TASO_DIST_TIMEOUT_S", timeout_s)
        .env("OMP_NUM_THREADS", "1")
        .env_remove("TORCHELASTIC_USE_AGENT_STORE")
        .env_remove("GLOO_SOCKET_IFNAME")
        .stdin(Stdio::null())
        // One open file for both, so that their writes append rather than overwrite.
        .stdout(log.as_file().try_clone().unwrap())
        .stderr(log.as_file().try_clone().unwrap())
        .spawn()
        .unwrap();
    Rank { rank, child, log }
}

/// Waits for every rank (killing any still running at CHILD_LIMIT) and asserts that each
/// passed its own checks; returns the wall time and each rank's output.
fn finish(mut ranks: Vec<Rank>) -> (Duration, Vec<String>) {
    let start = Instant::now();
    let mut statuses = vec![None; ranks.len()];
    while statuses.iter().any(Option::is_none) && start.elapsed() < CHILD_LIMIT {
        for (rank, status) in ranks.iter_mut().zip(&mut statuses) {
            if status.is_none() {
                *status = rank.child.try_wait().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = start.elapsed();
    let mut outputs = Vec::new();
    let mut failures = Vec::new();
    for (rank, status) in ranks.iter_mut().zip(statuses) {
        if status.is_none() {
            let _ = rank.child.kill();
            let _ = rank.child.wait();
        }
        let output = std::fs::read_to_string(rank.log.path()).unwrap_or_default();
        match status {
            Some(status) if status.success() => {}
            Some(status) => failures.push(format!("rank {} {status}:\n{output}", rank.rank)),
            None => failures.push(format!(
                "rank {} killed after {CHILD_LIMIT:?}:\n{output}",
                rank.rank
            )),
        }
        // Shown by `cargo test -- --nocapture`.
        println!("rank {} ({status:?}):\n{output}", rank.rank);
        outputs.push(output);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    (elapsed, outputs)
}

#[test]
fn two_ranks_all_reduce_broadcast_and_barrier() {
    let port = free_port();
    let ranks = (0..2)
        .map(|r| spawn("collectives", r, 2, port, "30"))
        .collect();
    let (_, outputs) = finish(ranks);
    for (rank, output) in outputs.iter().enumerate() {
        assert!(
            output.contains(&format!("rank {rank}: collectives ok")),
            "{output}"
        );
    }
}

#[test]
fn a_peer_that_never_arrives_is_an_error_within_the_timeout() {
    // Rank 0 hosts the store and waits for rank 1, which never comes.
    let (elapsed, outputs) = finish(vec![spawn("alone", 0, 2, free_port(), SHORT_TIMEOUT_S)]);
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(
        outputs[0].contains("rank 0 of 2 could not join the group at 127.0.0.1:"),
        "{}",
        outputs[0]
    );
    // Rank 1 finds no store to connect to.
    let (elapsed, outputs) = finish(vec![spawn("alone", 1, 2, free_port(), SHORT_TIMEOUT_S)]);
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(
        outputs[0].contains("rank 1 of 2 could not join the group at 127.0.0.1:"),
        "{}",
        outputs[0]
    );
}

#[test]
fn a_peer_that_dies_is_an_error_not_a_hang() {
    let port = free_port();
    let ranks = vec![
        spawn("survivor", 0, 2, port, SHORT_TIMEOUT_S),
        spawn("deserter", 1, 2, port, SHORT_TIMEOUT_S),
    ];
    let (elapsed, outputs) = finish(ranks);
    assert!(elapsed < Duration::from_secs(40), "took {elapsed:?}");
    assert!(
        outputs[0].contains("all_reduce_sum failed on rank 0"),
        "{}",
        outputs[0]
    );
}

#[test]
fn a_peer_that_stays_away_is_an_error_after_the_timeout() {
    let port = free_port();
    let ranks = vec![
        spawn("waiter", 0, 2, port, SHORT_TIMEOUT_S),
        spawn("laggard", 1, 2, port, SHORT_TIMEOUT_S),
    ];
    let (_, outputs) = finish(ranks);
    assert!(
        outputs[0].contains("all_reduce_sum failed on rank 0"),
        "{}",
        outputs[0]
    );
}

/// One rank of a scenario; a no-op unless a test above started this binary as a rank.
#[test]
#[ignore = "a rank of the multi-process tests, started by them"]
fn rank() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return;
    };
    match scenario.as_str() {
        "collectives" => collectives(),
        "alone" => {
            let start = Instant::now();
            let err = ProcessGroup::from_env(Device::Cpu).expect_err("no peer: must fail");
            println!("error after {:?}: {err}", start.elapsed());
            assert!(matches!(err, DistError::Rendezvous { .. }), "{err:?}");
            assert!(!err.to_string().contains('\n'));
        }
        "deserter" => {
            let group = ProcessGroup::from_env(Device::Cpu).unwrap().unwrap();
            group.barrier().unwrap();
            // Leave once rank 0 is surely past the barrier too, and before its all-reduce.
            std::thread::sleep(Duration::from_millis(300));
            println!("rank 1: leaving without a word");
            std::process::exit(0);
        }
        "survivor" => {
            let group = ProcessGroup::from_env(Device::Cpu).unwrap().unwrap();
            group.barrier().unwrap();
            std::thread::sleep(Duration::from_millis(1000));
            let mut t = Tensor::ones([8], (Kind::Float, Device::Cpu));
            let start = Instant::now();
            let err = group
                .all_reduce_sum(&mut t)
                .expect_err("the peer is gone: must fail");
            println!("error after {:?}: {err}", start.elapsed());
            assert!(!err.to_string().contains('\n'));
        }
        "laggard" => {
            let group = ProcessGroup::from_env(Device::Cpu).unwrap().unwrap();
            group.barrier().unwrap();
            std::thread::sleep(Duration::from_secs(6));
            println!("rank 1: back too late");
            std::process::exit(0);
        }
        "waiter" => {
            let group = ProcessGroup::from_env(Device::Cpu).unwrap().unwrap();
            group.barrier().unwrap();
            let mut t = Tensor::ones([8], (Kind::Float, Device::Cpu));
            let start = Instant::now();
            let err = group
                .all_reduce_sum(&mut t)
                .expect_err("the peer is away: must fail");
            let elapsed = start.elapsed();
            println!("error after {elapsed:?}: {err}");
            assert!(
                elapsed < Duration::from_secs(5),
                "the 3 s timeout took {elapsed:?}"
            );
            assert!(!err.to_string().contains('\n'));
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn collectives() {
    let group = ProcessGroup::from_env(Device::Cpu)
        .unwrap()
        .expect("launched with WORLD_SIZE=2");
    let r = group.rank();
    assert_eq!(group.world_size(), 2);
    assert_eq!(group.local_rank(), r);
    assert_eq!(group.is_main(), r == 0);
    let scale = (r + 1) as f64; // 1 and 2: the sum is 3 times the base, the mean 1.5 times
    for shape in [&[1i64][..], &[7], &[3, 5], &[2, 3, 4]] {
        let base = Tensor::arange(shape.iter().product::<i64>(), (Kind::Float, Device::Cpu))
            .view(shape)
            - 4.0;
        let mut sum = &base * scale;
        group.all_reduce_sum(&mut sum).unwrap();
        assert_eq!(sum, &base * 3.0, "sum of shape {shape:?}");
        let mut mean = &base * scale;
        group.all_reduce_mean(&mut mean).unwrap();
        assert_eq!(mean, &base * 1.5, "mean of shape {shape:?}");
    }
    // A non-contiguous view is reduced in place too: the columns of a 4x3 matrix.
    let matrix = Tensor::ones([3, 4], (Kind::Float, Device::Cpu)) * scale;
    let mut columns = matrix.transpose(0, 1);
    assert!(!columns.is_contiguous());
    group.all_reduce_sum(&mut columns).unwrap();
    assert_eq!(
        matrix,
        Tensor::full([3, 4], 3.0, (Kind::Float, Device::Cpu))
    );
    // Integers sum exactly; their mean is refused rather than truncated.
    let mut counts = Tensor::from_slice(&[10i64 * (r as i64 + 1), 1]);
    group.all_reduce_sum(&mut counts).unwrap();
    assert_eq!(counts, Tensor::from_slice(&[30i64, 2]));
    assert!(group.all_reduce_mean(&mut counts).is_err());
    // Broadcast from either root.
    for root in 0..2 {
        let mut t = if r == root {
            Tensor::from_slice(&[1.5f32, -2.0, 4.25]).view([3, 1])
        } else {
            Tensor::zeros([3, 1], (Kind::Float, Device::Cpu))
        };
        group.broadcast(&mut t, root).unwrap();
        assert_eq!(t, Tensor::from_slice(&[1.5f32, -2.0, 4.25]).view([3, 1]));
    }
    assert!(group
        .broadcast(&mut Tensor::zeros([1], (Kind::Float, Device::Cpu)), 2)
        .is_err());
    group.barrier().unwrap();
    println!("rank {r}: collectives ok");
}

#[test]
fn a_group_of_one_needs_no_peer_and_refuses_an_undefined_tensor() {
    // A group of one needs no peer: rank 0 hosts and joins its own store at once.
    let config = taso_dist::DistConfig::new(0, 1, "127.0.0.1", free_port());
    let group = ProcessGroup::new(&config, Device::Cpu).unwrap();
    let mut t = Tensor::from_slice(&[2.0f32, 4.0]);
    group.all_reduce_mean(&mut t).unwrap();
    assert_eq!(t, Tensor::from_slice(&[2.0f32, 4.0]));
    group.broadcast(&mut t, 0).unwrap();
    group.barrier().unwrap();
    // A parameter (a leaf that requires grad), through a non-contiguous view.
    let param = Tensor::ones([2, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    group.all_reduce_mean(&mut param.transpose(0, 1)).unwrap();
    group.broadcast(&mut param.transpose(0, 1), 0).unwrap();
    assert!(param.requires_grad());
    assert_eq!(
        param.detach(),
        Tensor::ones([2, 3], (Kind::Float, Device::Cpu))
    );
    let err = group.all_reduce_sum(&mut Tensor::new()).unwrap_err();
    assert!(err.to_string().contains("undefined tensor"), "{err}");
}
