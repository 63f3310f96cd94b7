//! `kill -9` at many points of a training run (checkpoint and artifact writes included), each
//! followed by `taso-train --resume`: no file that looks valid is ever partial, the temporary
//! files of killed writers do not survive the next run, and the resumed run ends with the same
//! adapters and metrics as an uninterrupted one, bit for bit (timings aside).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use taso::artifact::Artifact;
use taso::run::testing::{workspace_binary, Fixture};
use taso::run::{Method, RunPaths};

/// Two epochs of 8 steps, a checkpoint after every step, dev evaluated every epoch.
const SETTINGS: &str = "[score]\nbatches = 2\nbatch_size = 8\n\n[regions]\nheatmaps = false\n\n\
                        [train]\nepochs = 2\nbatch_size = 8\ncheckpoint_every = 1\n\
                        keep_checkpoints = 2\n";

/// How many times the interrupted run is killed before it may finish.
const KILLS: u32 = 12;

fn stage_command(name: &str, config: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(workspace_binary(&format!("taso-{name}")));
    command
        .arg("--config")
        .arg(config)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn run_stage(name: &str, config: &Path, extra: &[&str]) {
    let output = stage_command(name, config, extra).output().unwrap();
    assert!(
        output.status.success(),
        "taso-{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The config of run `name` (method taso, the fixture's task).
fn config_of(fixture: &Fixture, name: &str) -> (PathBuf, RunPaths) {
    let run = fixture.run(Method::Taso, name);
    let path = fixture.path(&format!("{name}.toml"));
    std::fs::write(&path, fixture.config_toml(&run, SETTINGS)).unwrap();
    (path, run.paths())
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|entry| entry.unwrap().path())
        .flat_map(|path| {
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Asserts that every artifact and `metrics.json` in the folder is whole (temporary files
/// aside, which are hidden and never read).
fn assert_nothing_partial(dir: &Path) {
    for path in files_under(dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".safetensors") {
            if let Err(error) = Artifact::open_any(&path) {
                panic!("{} is partial after a kill: {error}", path.display());
            }
        }
        if name == "metrics.json" {
            let text = std::fs::read_to_string(&path).unwrap();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("metrics.json is partial after a kill: {e}"));
        }
    }
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect()
}

/// A folder without `training.incomplete` holds no training outputs, or those of a finished
/// training.
fn assert_unmarked_means_finished(paths: &RunPaths) {
    if paths.training_marker().exists() || !paths.metrics().exists() {
        return;
    }
    let text = std::fs::read_to_string(paths.metrics()).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        metrics["last"]["step"], metrics["total_steps"],
        "a killed run's unfinished outputs are not marked: {text}"
    );
}

/// `metrics.json` without its wall-clock figures.
fn metrics_without_timings(paths: &RunPaths) -> serde_json::Value {
    let text = std::fs::read_to_string(paths.metrics()).unwrap();
    let mut metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    let object = metrics.as_object_mut().unwrap();
    object.remove("train_seconds");
    object.remove("examples_per_second");
    object.remove("tokens_per_second");
    object.remove("peak_resident_bytes_by_epoch");
    metrics
}

#[test]
fn a_training_killed_at_many_points_resumes_to_the_uninterrupted_result() {
    let fixture = Fixture::new();
    let (whole_config, whole) = config_of(&fixture, "whole");
    for name in ["score", "regions", "lora"] {
        run_stage(name, &whole_config, &[]);
    }
    let started = Instant::now();
    run_stage("train", &whole_config, &[]);
    let duration = started.elapsed();

    // The same inputs in a second run folder, trained with kills in between.
    let (killed_config, killed) = config_of(&fixture, "killed");
    std::fs::create_dir_all(&killed.dir).unwrap();
    for file in [
        "importance.safetensors",
        "regions.safetensors",
        "adapter-init.safetensors",
    ] {
        std::fs::copy(whole.dir.join(file), killed.dir.join(file)).unwrap();
    }
    let mut kills = 0;
    let mut attempt = 0;
    // After a finished attempt the next one starts afresh, so that there is training to kill.
    let mut resume = true;
    loop {
        attempt += 1;
        assert!(attempt < 100, "the resumed run never finished");
        let extra: &[&str] = if resume { &["--resume"] } else { &[] };
        let mut child = stage_command("train", &killed_config, extra)
            .spawn()
            .unwrap();
        if kills < KILLS {
            // Spread the kills over a whole run's duration, in an order that mixes early and
            // late ones (a resumed run is shorter, so late kills may find it finished).
            let fraction = 0.1 + 0.9 * f64::from((kills * 5) % KILLS) / f64::from(KILLS);
            std::thread::sleep(duration.mul_f64(fraction).max(Duration::from_millis(50)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                assert_nothing_partial(&killed.dir);
                assert_unmarked_means_finished(&killed);
                resume = true;
                continue;
            }
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        resume = false;
        if kills >= KILLS {
            break;
        }
    }

    assert_eq!(
        temp_files(&killed.dir),
        Vec::<PathBuf>::new(),
        "litter of killed writers"
    );
    assert!(!killed.training_marker().exists());
    for file in ["adapter.safetensors", "adapter-best.safetensors"] {
        let (a, b) = (whole.dir.join(file), killed.dir.join(file));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{file} differs after {kills} kills and resumptions"
        );
    }
    assert_eq!(
        metrics_without_timings(&whole),
        metrics_without_timings(&killed)
    );
}
