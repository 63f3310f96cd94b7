//! The `taso-train` binary end to end on the tiny run folder.

mod common;

use std::process::{Command, Output};

use common::{serial, Fixture};
use taso_artifact::run::Method;
use taso_train::TrainMetrics;

fn taso_train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taso-train"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn trains_writes_the_run_folder_and_resumes() {
    let _serial = serial();
    let fixture = Fixture::new();
    let run = fixture.run(Method::Taso, "cli");
    common::write_adapter_init(&run, true);
    let config = fixture.path("config.toml");
    let train = "[train]\nepochs = 2\nbatch_size = 16\nlr = 0.01\ncheckpoint_every = 4\n";
    std::fs::write(&config, fixture.config_toml(&run, train)).unwrap();
    let config = config.to_str().unwrap();

    let out = taso_train(&["--config", config, "--set", "train.eval_batch_size=8"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("trainable parameters") && stdout.contains("budget: P_sparse"),
        "{stdout}"
    );
    let paths = run.paths();
    for file in [
        paths.adapter(),
        paths.adapter_best(),
        paths.config(),
        paths.report(),
    ] {
        assert!(file.is_file(), "{} is missing", file.display());
    }
    let metrics = TrainMetrics::read(&paths.metrics()).unwrap();
    assert_eq!((metrics.epochs.len(), metrics.total_steps), (2, 8));
    let resolved = std::fs::read_to_string(paths.config()).unwrap();
    assert!(resolved.contains("eval_batch_size = 8"), "{resolved}");
    assert!(std::fs::read_to_string(paths.report())
        .unwrap()
        .starts_with("## Training"));

    let resume = [
        "--config",
        config,
        "--set",
        "train.eval_batch_size=8",
        "--resume",
    ];
    let out = taso_train(&resume);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        TrainMetrics::read(&paths.metrics()).unwrap().epochs,
        metrics.epochs
    );

    let out = taso_train(&["--config", config, "--set", "train.lr=-1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("`lr`"), "{stderr}");
}
