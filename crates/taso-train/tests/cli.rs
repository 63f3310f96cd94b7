//! The `taso-train` binary end to end on the tiny run folder.

use std::process::Command;

use taso_models::testing::run_captured;
use taso_run::testing::{serial, write_adapter_init, Fixture};
use taso_run::Method;
use taso_train::TrainMetrics;

fn taso_train(args: &[&str]) -> (bool, String) {
    run_captured(
        Command::new(env!("CARGO_BIN_EXE_taso-train"))
            .args(args)
            .env("RUST_LOG", "warn"),
    )
}

#[test]
fn trains_writes_the_run_folder_and_resumes() {
    let _serial = serial();
    let fixture = Fixture::new();
    let run = fixture.run(Method::Taso, "cli");
    write_adapter_init(&run, true);
    let config = fixture.path("config.toml");
    let train = "[train]\nepochs = 2\nbatch_size = 16\nlr = 0.01\ncheckpoint_every = 4\n";
    std::fs::write(&config, fixture.config_toml(&run, train)).unwrap();
    let config = config.to_str().unwrap();

    let (ok, log) = taso_train(&["--config", config, "--set", "train.eval_batch_size=8"]);
    assert!(ok, "{log}");
    assert!(
        log.contains("trainable parameters") && log.contains("budget: P_sparse"),
        "{log}"
    );
    let paths = run.paths();
    for file in [
        paths.adapter(),
        paths.adapter_best(),
        paths.config(),
        paths.report(),
        paths.curves(),
    ] {
        assert!(file.is_file(), "{} is missing", file.display());
    }
    let metrics = TrainMetrics::read(&paths.metrics()).unwrap();
    assert_eq!((metrics.epochs.len(), metrics.total_steps), (2, 8));
    let resolved = std::fs::read_to_string(paths.config()).unwrap();
    assert!(resolved.contains("eval_batch_size = 8"), "{resolved}");
    let report = std::fs::read_to_string(paths.report()).unwrap();
    assert!(report.starts_with("## Training"), "{report}");
    assert!(
        report.contains("](curves.png)"),
        "the report embeds its curves: {report}"
    );
    let png = std::fs::read(paths.curves()).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "curves.png is a PNG");

    let resume = [
        "--config",
        config,
        "--set",
        "train.eval_batch_size=8",
        "--resume",
    ];
    let (ok, log) = taso_train(&resume);
    assert!(ok, "{log}");
    assert_eq!(
        TrainMetrics::read(&paths.metrics()).unwrap().epochs,
        metrics.epochs
    );

    let (ok, log) = taso_train(&["--config", config, "--set", "train.lr=-1"]);
    assert!(!ok && log.contains("`lr`"), "{log}");
}
