//! The trainer on the tiny task: learning, which tensors move, resume, divergence, refusals,
//! learning-rate scaling and the masked form.

use std::collections::BTreeSet;
use std::path::Path;

use taso_adapter::LoraForm;
use taso_artifact::{Artifact, ArtifactKind, ArtifactMeta};
use taso_data::Split;
use taso_models::{ComputeDtype, TaskModel};
use taso_run::testing::{regions, serial, tiny_bert, Fixture, RANK};
use taso_run::{Method, RunSettings};
use taso_train::testing::{learning_config, quick_config};
use taso_train::{train, EpochRecord, TrainConfig, TrainError, TrainMetrics, Trainer};
use tch::Tensor;

#[test]
fn adapters_and_the_head_alone_learn_the_task() {
    let _serial = serial();
    let fixture = Fixture::new();
    for method in [Method::Taso, Method::Lora, Method::HeadOnly] {
        let ctx = fixture.context(fixture.run(method, "learn"));
        let metrics = train(&ctx, &learning_config(), LoraForm::Compact).unwrap();
        let (first, last) = (&metrics.epochs[0], metrics.last.as_ref().unwrap());
        assert!(
            last.train_loss < 0.9 * first.train_loss,
            "{method:?}: loss {} -> {}",
            first.train_loss,
            last.train_loss
        );
        let best = metrics.best.as_ref().unwrap().dev.as_ref().unwrap()["accuracy"];
        assert!(
            best >= 0.7,
            "{method:?}: best dev accuracy {best} (chance 0.5)"
        );
        assert!(ctx.paths.adapter().is_file() && ctx.paths.adapter_best().is_file());
    }
}

/// Deep copies of every base (`base.`) and head (`head.`) parameter.
fn snapshot(model: &TaskModel) -> Vec<(String, Tensor)> {
    let base = model
        .base_parameters()
        .iter()
        .map(|(n, t)| (format!("base.{n}"), t.detach().copy()));
    let head = model
        .head_parameters()
        .iter()
        .map(|(n, t)| (format!("head.{n}"), t.detach().copy()));
    base.chain(head).collect()
}

#[test]
fn each_method_trains_exactly_its_parameters() {
    let _serial = serial();
    let fixture = Fixture::new();
    let config = TrainConfig {
        epochs: 1,
        ..quick_config()
    };
    for method in [Method::Taso, Method::Bitfit, Method::Full, Method::HeadOnly] {
        let ctx = fixture.context(fixture.run(method, "which"));
        let mut trainer = Trainer::new(&ctx, &config, LoraForm::Compact).unwrap();
        let before = snapshot(trainer.model());
        let adapter_before: Vec<Tensor> = trainer
            .adapters()
            .map(|a| a.trainable().iter().map(|t| t.detach().copy()).collect())
            .unwrap_or_default();
        trainer.run().unwrap();

        let trained: BTreeSet<String> = trainer
            .trainable()
            .params()
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let expected: BTreeSet<String> = before
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| match method {
                Method::Bitfit => name.starts_with("head.") || name.ends_with(".bias"),
                Method::Full => true,
                _ => name.starts_with("head."),
            })
            .chain(regions(&ctx.run, true).matrices.iter().flat_map(|m| {
                let adapted = method == Method::Taso;
                adapted
                    .then(|| {
                        [
                            format!("{}.lora_A", m.target.name),
                            format!("{}.lora_B", m.target.name),
                        ]
                    })
                    .into_iter()
                    .flatten()
            }))
            .collect();
        assert_eq!(trained, expected, "{method:?}");

        let after = snapshot(trainer.model());
        let mut moved = 0;
        for ((name, old), (_, new)) in before.iter().zip(&after) {
            if trained.contains(name) {
                moved += usize::from(!old.equal(new));
            } else {
                assert!(old.equal(new), "{method:?}: frozen {name} changed");
            }
        }
        let adapter_after = trainer
            .adapters()
            .map(|a| a.trainable())
            .unwrap_or_default();
        for (old, new) in adapter_before.iter().zip(&adapter_after) {
            moved += usize::from(!old.equal(new));
        }
        // Every trained tensor moves, but a few biases may get no gradient at all (a key bias
        // shifts every attention score of a query equally).
        assert!(
            moved * 10 >= trained.len() * 9,
            "{method:?}: {moved} of {} moved",
            trained.len()
        );

        let file = Artifact::open_any(&ctx.paths.adapter()).unwrap();
        let saved: BTreeSet<&str> = file
            .tensor_names()
            .into_iter()
            .filter(|n| n.starts_with("head.") || n.starts_with("base."))
            .collect();
        let trained_non_adapter: BTreeSet<&str> = trained
            .iter()
            .map(String::as_str)
            .filter(|n| !n.ends_with(".lora_A") && !n.ends_with(".lora_B"))
            .collect();
        assert_eq!(
            saved, trained_non_adapter,
            "{method:?}: the file holds what was trained"
        );
    }
}

/// Copies a folder tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn assert_same_tensors(a: &Path, b: &Path) {
    let (a, b) = (
        Artifact::open_any(a).unwrap(),
        Artifact::open_any(b).unwrap(),
    );
    assert_eq!(a.tensor_names(), b.tensor_names());
    for name in a.tensor_names() {
        assert_eq!(a.tensor(name).unwrap(), b.tensor(name).unwrap(), "{name}");
    }
}

#[test]
fn resuming_from_a_checkpoint_matches_an_uninterrupted_run() {
    let _serial = serial();
    let fixture = Fixture::new();
    let config = TrainConfig {
        checkpoint_every: 3,
        keep_checkpoints: 0,
        ..quick_config()
    };
    let ctx = fixture.context(fixture.run(Method::Taso, "whole"));
    let whole = train(&ctx, &config, LoraForm::Compact).unwrap();
    let steps: Vec<usize> = taso_train::list_checkpoints(&ctx.paths.checkpoints())
        .unwrap()
        .iter()
        .map(|(step, _)| *step)
        .collect();
    assert_eq!(steps, [3, 6, 9, 12]);

    // Step 6 is inside epoch 2 (steps 5-8); step 8 would be an epoch end, 9 is after one.
    for interrupted_at in [6, 9] {
        let name = format!("resumed-{interrupted_at}");
        let resumed_run = fixture.run(Method::Taso, &name);
        let resumed_paths = resumed_run.paths();
        copy_dir(&ctx.paths.dir, &resumed_paths.dir);
        for (step, path) in taso_train::list_checkpoints(&resumed_paths.checkpoints()).unwrap() {
            if step > interrupted_at {
                std::fs::remove_file(path).unwrap();
            }
        }
        let resumed_ctx = taso_run::RunContext::new(resumed_run).unwrap();
        let resume = TrainConfig {
            resume: true,
            ..config.clone()
        };
        let resumed = train(&resumed_ctx, &resume, LoraForm::Compact).unwrap();
        assert_same_tensors(&ctx.paths.adapter(), &resumed_paths.adapter());
        assert_same_tensors(&ctx.paths.adapter_best(), &resumed_paths.adapter_best());
        assert_eq!(resumed.epochs.len(), whole.epochs.len());
        for (a, b) in whole.epochs.iter().zip(&resumed.epochs) {
            assert_eq!((a.epoch, a.step, &a.dev), (b.epoch, b.step, &b.dev));
            assert!((a.train_loss - b.train_loss).abs() < 1e-12);
        }
        // The loss along the run (every `log_every` = 4 steps) carries over the cut too.
        let steps = |m: &TrainMetrics| m.step_losses.iter().map(|p| p.step).collect::<Vec<_>>();
        assert_eq!(steps(&whole), [4, 8, 12]);
        assert_eq!(steps(&resumed), steps(&whole));
        for (a, b) in whole.step_losses.iter().zip(&resumed.step_losses) {
            assert!((a.loss - b.loss).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    // Another setting than the checkpoint's is refused, naming it.
    let changed = TrainConfig {
        resume: true,
        lr: 0.5,
        ..config
    };
    let err = train(&ctx, &changed, LoraForm::Compact)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("train.lr") && err.contains("without --resume"),
        "{err}"
    );
}

#[test]
fn a_diverging_run_stops_with_a_clear_error_and_writes_no_adapter() {
    let _serial = serial();
    let fixture = Fixture::new();
    let ctx = fixture.context(fixture.run(Method::Lora, "diverge"));
    let config = TrainConfig {
        lr: 1e30,
        ..quick_config()
    };
    let err = train(&ctx, &config, LoraForm::Compact).err().unwrap();
    assert!(matches!(err, TrainError::NonFinite { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("at step") && message.contains("lower `train.lr`"),
        "{message}"
    );
    assert!(!ctx.paths.adapter().exists() && !ctx.paths.adapter_best().exists());
    let leftovers: Vec<_> = std::fs::read_dir(&ctx.paths.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn an_adapter_init_of_another_kind_or_model_is_refused() {
    let _serial = serial();
    let fixture = Fixture::new();
    let ctx = fixture.context(fixture.run(Method::Taso, "refuse"));
    let init = ctx.paths.adapter_init();
    let rewrite = |kind: ArtifactKind, fingerprint: String| {
        let meta = ArtifactMeta::new(kind, "test", "0", fingerprint, "tiny", &1).unwrap();
        taso_artifact::write_artifact(
            &init,
            &meta,
            &Vec::<(String, taso_artifact::TensorData)>::new(),
        )
        .unwrap();
    };
    rewrite(ArtifactKind::Regions, ctx.fingerprint.clone());
    let err = train(&ctx, &quick_config(), LoraForm::Compact)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("is a 'regions' artifact")
            && err.contains("'adapter-init' artifact is needed"),
        "{err}"
    );
    let other = taso_artifact::model_fingerprint(&tiny_bert().join("../tiny-roberta")).unwrap();
    rewrite(ArtifactKind::AdapterInit, other);
    let err = train(&ctx, &quick_config(), LoraForm::Compact)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("made for another base model"), "{err}");
}

#[test]
fn the_adapter_lr_is_scaled_by_the_density_ratio() {
    let _serial = serial();
    let fixture = Fixture::new();
    let config = TrainConfig {
        epochs: 1,
        gamma: 0.5,
        ..quick_config()
    };
    let run = |method: Method| -> TrainMetrics {
        let ctx = fixture.context(fixture.run(method, "scale"));
        train(&ctx, &config, LoraForm::Compact).unwrap()
    };
    let sparse = run(Method::Taso);
    let regions = regions(&fixture.run(Method::Taso, "scale"), true);
    let p_sparse: usize = regions
        .matrices
        .iter()
        .map(|m| RANK * (m.rows.len() + m.cols.len()))
        .sum();
    let p_dense: usize = regions
        .targets
        .iter()
        .map(|t| RANK * (t.d_out + t.d_in))
        .sum();
    let budget = sparse.budget.unwrap();
    assert_eq!(
        (budget.p_sparse, budget.p_dense, budget.rank),
        (p_sparse, p_dense, RANK)
    );
    let factor = (p_dense as f64 / p_sparse as f64).powf(0.5);
    assert!((sparse.lr.factor - factor).abs() < 1e-12);
    assert!(sparse.lr.factor > 1.5);
    assert!((sparse.lr.adapter.unwrap() - config.lr * factor).abs() < 1e-15);
    assert_eq!(sparse.params.adapter, p_sparse);

    let dense = run(Method::Lora);
    assert_eq!(dense.lr.factor, 1.0);
    let head_only = run(Method::HeadOnly);
    assert_eq!((head_only.lr.factor, head_only.lr.adapter), (1.0, None));
    assert!(head_only.budget.is_none());
}

#[test]
fn the_masked_form_trains_the_same_adapter_as_the_compact_one() {
    let _serial = serial();
    let fixture = Fixture::new();
    let config = TrainConfig {
        epochs: 1,
        ..quick_config()
    };
    let mut files = Vec::new();
    for (form, name) in [(LoraForm::Compact, "compact"), (LoraForm::Masked, "masked")] {
        let ctx = fixture.context(fixture.run(Method::Taso, name));
        train(&ctx, &config, form).unwrap();
        files.push(Artifact::open_any(&ctx.paths.adapter()).unwrap());
    }
    assert_eq!(files[0].tensor_names(), files[1].tensor_names());
    for name in files[0].tensor_names() {
        let a = files[0].tensor(name).unwrap().to_tch().unwrap();
        let b = files[1].tensor(name).unwrap().to_tch().unwrap();
        assert!(a.allclose(&b, 1e-4, 1e-5, false), "{name}");
    }
}

#[test]
fn step_caps_subsets_and_end_only_evaluation_shorten_the_run() {
    let _serial = serial();
    let fixture = Fixture::new();
    let ctx = fixture.context(fixture.run(Method::HeadOnly, "short"));
    let config = TrainConfig {
        max_steps: Some(5),
        train_subset: Some(32),
        eval_every_epoch: false,
        ..quick_config()
    };
    // 32 examples in batches of 16: 2 steps per epoch, 3 epochs capped at 5 steps.
    let metrics = train(&ctx, &config, LoraForm::Compact).unwrap();
    assert_eq!((metrics.total_steps, metrics.train_examples), (5, 32));
    let steps: Vec<usize> = metrics.epochs.iter().map(|e| e.step).collect();
    assert_eq!(steps, [2, 4, 5]);
    let evaluated: Vec<bool> = metrics.epochs.iter().map(|e| e.dev.is_some()).collect();
    assert_eq!(evaluated, [false, false, true], "only the end is evaluated");
    // The loss along the run: every `log_every` = 4 steps, and the shorter last stretch.
    let along: Vec<usize> = metrics.step_losses.iter().map(|p| p.step).collect();
    assert_eq!(along, [4, 5]);
    assert_eq!(metrics.best, metrics.last);
    // The process's peak memory in each epoch (Linux).
    assert_eq!(metrics.peak_resident_bytes_by_epoch.len(), 3);
    assert!(metrics
        .peak_resident_bytes_by_epoch
        .iter()
        .all(|&bytes| bytes > 0));
}

#[test]
fn a_regression_task_trains_on_squared_error_and_reports_correlations() {
    let _serial = serial();
    let fixture = Fixture::new();
    let ctx = fixture.context(fixture.run_regression(Method::Lora, "score"));
    let metrics = train(&ctx, &learning_config(), LoraForm::Compact).unwrap();
    assert_eq!(metrics.main_metric, "pearson");
    let best = metrics.best.unwrap().dev.unwrap();
    assert!(
        best["pearson"] > 0.5 && best.contains_key("spearman"),
        "{best:?}"
    );
    assert!(metrics.epochs.last().unwrap().train_loss < metrics.epochs[0].train_loss);
}

#[test]
fn a_holdout_of_training_examples_chooses_the_best_epoch() {
    let _serial = serial();
    let fixture = Fixture::new();
    let run = fixture.run(Method::HeadOnly, "held");
    let all = fixture
        .context(run.clone())
        .split(Split::Train, None)
        .unwrap()
        .len();
    let ctx = fixture.context(RunSettings {
        holdout: 20,
        ..run.clone()
    });
    let metrics = train(&ctx, &quick_config(), LoraForm::Compact).unwrap();
    assert_eq!(
        (metrics.train_examples, metrics.holdout_examples),
        (all - 20, 20)
    );
    let holdout_accuracy = |e: &EpochRecord| e.holdout.as_ref().unwrap()["accuracy"];
    let best = metrics.epochs.iter().fold(&metrics.epochs[0], |best, e| {
        if holdout_accuracy(e) > holdout_accuracy(best) {
            e
        } else {
            best
        }
    });
    assert_eq!(
        metrics.best.as_ref(),
        Some(best),
        "the first best on the hold-out"
    );
    assert!(
        metrics.epochs.iter().all(|e| e.dev.is_some()),
        "dev is still reported"
    );

    let too_many = fixture.context(RunSettings {
        holdout: all,
        ..run
    });
    let error = train(&too_many, &quick_config(), LoraForm::Compact).unwrap_err();
    assert!(
        error.to_string().contains(&format!("run.holdout = {all}")),
        "{error}"
    );
}

#[test]
fn training_over_a_bf16_or_f16_base_follows_f32_and_keeps_f32_masters() {
    let _serial = serial();
    let fixture = Fixture::new();
    let config = TrainConfig {
        epochs: 1,
        ..quick_config()
    };
    let trained = |dtype: ComputeDtype| {
        let mut run = fixture.run(Method::Taso, dtype.name());
        run.dtype = dtype;
        let ctx = fixture.context(run);
        let mut trainer = Trainer::new(&ctx, &config, LoraForm::Compact).unwrap();
        trainer.run().unwrap();
        let adapters = trainer.adapters().unwrap();
        let factors: Vec<Tensor> = adapters
            .trainable()
            .iter()
            .map(|t| t.detach().copy())
            .collect();
        let head: Vec<Tensor> = trainer
            .model()
            .head_parameters()
            .iter()
            .map(|(_, t)| t.detach().copy())
            .collect();
        (factors, head)
    };
    let (factors32, head32) = trained(ComputeDtype::F32);
    // Stated tolerance: after 4 AdamW steps every trained tensor (f32 in both runs) is within
    // 10% of the f32 run's in L2 norm. B starts at zero, so it is all update, and AdamW's first
    // steps are sign-like: a near-zero gradient that rounds across zero moves an element by a
    // whole lr. (Measured: A and the head within 0.3%, B within 6% in bf16.) f16 trains with a
    // dynamic loss scale.
    for dtype in [ComputeDtype::Bf16, ComputeDtype::F16] {
        let (factors16, head16) = trained(dtype);
        for (a, b) in factors32
            .iter()
            .chain(&head32)
            .zip(factors16.iter().chain(&head16))
        {
            assert_eq!(b.kind(), tch::Kind::Float, "master weights stay f32");
            let gap = (a - b).norm().double_value(&[]) / a.norm().double_value(&[]);
            eprintln!("{dtype} {:?}: relative L2 gap {gap:.2e}", a.size());
            assert!(
                gap <= 0.1,
                "{dtype} {:?}: relative L2 gap {gap:.2e}",
                a.size()
            );
        }
        assert!(
            factors32.iter().zip(&factors16).any(|(a, b)| !a.equal(b)),
            "{dtype} made no difference"
        );
    }
}

#[test]
fn methods_that_train_the_base_refuse_a_bf16_base() {
    let fixture = Fixture::new();
    for method in [Method::Full, Method::Bitfit] {
        let mut run = fixture.run(method, "bf16");
        run.dtype = ComputeDtype::Bf16;
        let err = run.validate().unwrap_err().to_string();
        assert!(
            err.contains("f32 master weights") && err.contains(method.name()),
            "{err}"
        );
    }
}

#[test]
fn checkpointed_training_learns_reproducibly() {
    let _serial = serial();
    let fixture = Fixture::new();
    let config = TrainConfig {
        checkpoint_activations: true,
        ..learning_config()
    };
    let trained = |name: &str| {
        let ctx = fixture.context(fixture.run(Method::Taso, name));
        let mut trainer = Trainer::new(&ctx, &config, LoraForm::Compact).unwrap();
        let metrics = trainer.run().unwrap();
        let factors: Vec<Tensor> = trainer
            .adapters()
            .unwrap()
            .trainable()
            .iter()
            .map(|t| t.detach().copy())
            .collect();
        (metrics, factors)
    };
    let (metrics, first) = trained("checkpointed-a");
    let (first_loss, last_loss) = (
        metrics.epochs[0].train_loss,
        metrics.last.as_ref().unwrap().train_loss,
    );
    assert!(
        last_loss < 0.9 * first_loss,
        "loss {first_loss} -> {last_loss}"
    );
    let (_, second) = trained("checkpointed-b");
    assert!(
        first.iter().zip(&second).all(|(a, b)| a.equal(b)),
        "the same seed must train the same adapter, dropout included"
    );
}

#[test]
fn the_batch_plan_file_holds_the_batches_training_steps_through() {
    let fixture = Fixture::new();
    let ctx = fixture.context(fixture.run(Method::Lora, "plan"));
    let config = TrainConfig {
        epochs: 2,
        batch_size: 10,
        max_steps: Some(11),
        ..quick_config()
    };
    let path = fixture.path("plan.safetensors");
    let plan = taso_train::write_batch_plan(&ctx, &config, &path).unwrap();
    let train = ctx.split(Split::Train, config.train_subset).unwrap();
    let per_epoch = train.len().div_ceil(10);
    assert_eq!(plan.steps, (2 * per_epoch).min(11));
    let tensors: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&path)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        tensors.len(),
        4 * plan.steps,
        "ids, mask, types and labels per step"
    );
    let rows: i64 = (0..plan.steps)
        .map(|s| tensors[&format!("{s:05}.labels")].size()[0])
        .sum();
    assert_eq!(rows as usize, plan.examples);
    let first = &tensors["00000.input_ids"];
    assert_eq!(first.size(), tensors["00000.attention_mask"].size());
    // The first batch is the training's first: the same rows as taso_data's plan gives.
    let lengths = train.lengths();
    let indices = &taso_data::plan_batches(&lengths, 10, config.batching, ctx.run.seed, 0)[0];
    let taso_models::TaskBatch::Classification(batch) = train.batch(indices, tch::Device::Cpu)
    else {
        panic!("the tiny task is a classification task");
    };
    assert!(batch.input_ids.equal(first));
    assert!(
        !ctx.paths.training_marker().exists(),
        "writing the plan trains nothing"
    );
}
