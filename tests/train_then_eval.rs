//! Training then evaluating on the tiny run folder: the trainer's and the evaluator's stages
//! together (neither stage's crate depends on the other, so their joint tests live here).

use std::process::Command;

use taso_adapter::LoraForm;
use taso_data::Split;
use taso_eval::{evaluate_run, AdapterChoice, EvalConfig, EvalError};
use taso_models::testing::run_captured;
use taso_models::{TaskBatch, TaskModel};
use taso_run::testing::{serial, workspace_binary, write_adapter_init, Fixture, RANK};
use taso_run::TrainedModel;
use taso_run::{Method, RunError};
use taso_train::testing::{learning_config, quick_config};
use taso_train::{train, TrainConfig, TrainMetrics};

#[test]
fn a_merged_adapter_predicts_what_the_attached_one_does() {
    let _serial = serial();
    let fixture = Fixture::new();
    let ctx = fixture.context(fixture.run(Method::Taso, "merge"));
    train(&ctx, &learning_config(), LoraForm::Compact).unwrap();
    let attached = EvalConfig::default();
    let merged = EvalConfig {
        merged: true,
        ..EvalConfig::default()
    };
    let (a, model_a) = evaluate_run(&ctx, &attached, None).unwrap();
    let (b, model_b) = evaluate_run(&ctx, &merged, None).unwrap();
    let (model_a, model_b) = (model_a.unwrap(), model_b.unwrap());
    assert_eq!(a.metrics, b.metrics);
    assert_eq!(a.predictions, b.predictions);
    assert!(model_a.adapters.is_some());

    let dev = ctx.split(Split::Dev, None).unwrap();
    let TaskBatch::Classification(batch) =
        dev.batch(&(0..dev.len()).collect::<Vec<_>>(), ctx.device)
    else {
        unreachable!("the fixture's task is a classification task")
    };
    let logits = |trained: &TrainedModel| match &trained.model {
        TaskModel::Classifier(model) => {
            tch::no_grad(|| model.forward(&batch.encoder_input(), false))
        }
        TaskModel::CausalLm(_) => unreachable!("the fixture's model is an encoder"),
    };
    let gap = f64::try_from((logits(&model_a) - logits(&model_b)).abs().max()).unwrap();
    assert!(gap < 1e-5, "merged and attached logits differ by {gap}");
}

#[test]
fn every_method_scores_what_the_trainer_scored() {
    let _serial = serial();
    let fixture = Fixture::new();
    let config = TrainConfig {
        epochs: 2,
        ..quick_config()
    };
    let eval = EvalConfig {
        batch_size: config.eval_batch_size,
        ..EvalConfig::default()
    };
    for method in [
        Method::Taso,
        Method::Lora,
        Method::Bitfit,
        Method::Full,
        Method::HeadOnly,
    ] {
        let ctx = fixture.context(fixture.run(method, "every"));
        let trained = train(&ctx, &config, LoraForm::Compact).unwrap();
        for (choice, record) in [
            (AdapterChoice::Best, &trained.best),
            (AdapterChoice::Last, &trained.last),
        ] {
            let eval = EvalConfig {
                adapter: choice,
                ..eval.clone()
            };
            let (report, _) = evaluate_run(&ctx, &eval, None).unwrap();
            let record = record.as_ref().unwrap();
            assert_eq!(report.metrics, record.dev, "{method:?} {choice:?}");
            assert_eq!(
                (report.method, report.epoch),
                (Some(method), Some(record.epoch))
            );
        }
        let written = TrainMetrics::read(&ctx.paths.metrics()).unwrap();
        assert_eq!(
            written.epochs, trained.epochs,
            "the eval entry keeps the trainer's"
        );
    }
}

#[test]
fn other_kinds_and_adapterless_exports_are_refused() {
    let _serial = serial();
    let fixture = Fixture::new();
    let ctx = fixture.context(fixture.run(Method::HeadOnly, "refuse"));
    write_adapter_init(&ctx.run, true);
    let init = ctx.paths.adapter_init();
    let err = evaluate_run(&ctx, &EvalConfig::default(), Some(&init))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("'adapter' artifact is needed"), "{err}");

    train(
        &ctx,
        &TrainConfig {
            epochs: 1,
            ..quick_config()
        },
        LoraForm::Compact,
    )
    .unwrap();
    let (_, trained) = evaluate_run(&ctx, &EvalConfig::default(), None).unwrap();
    let err = taso_run::export_peft(&trained.unwrap(), &fixture.path("peft"), &ctx.run.model)
        .unwrap_err();
    assert!(matches!(err, RunError::NoAdapter { .. }), "{err}");
    assert!(err.to_string().contains("head-only"), "{err}");

    // An encoder has no zero-shot baseline: its head exists only once trained.
    let base = EvalConfig {
        adapter: AdapterChoice::None,
        ..EvalConfig::default()
    };
    let err = evaluate_run(&ctx, &base, None).err().unwrap();
    assert!(matches!(err, EvalError::NoBaseline), "{err}");
}

#[test]
fn taso_eval_runs_end_to_end_and_exports_peft() {
    let _serial = serial();
    let fixture = Fixture::new();
    let run = fixture.run(Method::Taso, "cli");
    let ctx = fixture.context(run.clone());
    train(
        &ctx,
        &TrainConfig {
            epochs: 1,
            ..quick_config()
        },
        LoraForm::Compact,
    )
    .unwrap();
    let config = fixture.path("config.toml");
    std::fs::write(
        &config,
        fixture.config_toml(&run, "[eval]\nadapter = \"last\"\n"),
    )
    .unwrap();
    let peft = fixture.path("peft");
    let (ok, log) = run_captured(
        Command::new(workspace_binary("taso-eval"))
            .args(["--config", config.to_str().unwrap()])
            .args(["--set", "eval.merged=true"])
            .args(["--export-peft", peft.to_str().unwrap()])
            .env("RUST_LOG", "warn"),
    );
    assert!(ok, "{log}");
    assert!(
        log.contains("adapter.safetensors on dev") && log.contains("accuracy"),
        "{log}"
    );

    let paths = run.paths();
    let predictions = std::fs::read_to_string(paths.predictions()).unwrap();
    assert_eq!(predictions.lines().count(), 33);
    assert!(predictions.starts_with("index\tprediction\tgold\n0\t"));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(paths.metrics()).unwrap()).unwrap();
    assert_eq!(metrics["eval"]["merged"], true);
    assert!(metrics["eval"]["metrics"]["accuracy"].is_number());
    assert!(metrics["epochs"].is_array(), "the trainer's entries stay");
    // The per-class view: the confusion matrix counts every dev example once, and its diagonal
    // is the accuracy.
    let classes = &metrics["eval"]["classes"];
    assert_eq!(classes["names"], serde_json::json!(["no", "yes"]));
    let confusion: Vec<Vec<f64>> = serde_json::from_value(classes["confusion"].clone()).unwrap();
    let total: f64 = confusion.iter().flatten().sum();
    assert_eq!(total, 32.0);
    let accuracy = metrics["eval"]["metrics"]["accuracy"].as_f64().unwrap();
    assert!(((confusion[0][0] + confusion[1][1]) / total - accuracy).abs() < 1e-9);
    let report = std::fs::read_to_string(paths.report()).unwrap();
    assert!(
        report.contains("## Training") && report.contains("## Evaluation"),
        "{report}"
    );
    assert!(
        report.contains("Per class (macro-F1")
            && report.contains("| gold \\ predicted | no | yes |"),
        "{report}"
    );
    assert!(std::fs::read_to_string(paths.config())
        .unwrap()
        .contains("[eval]"));

    let adapter_config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(peft.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(
        adapter_config["modules_to_save"],
        serde_json::json!(["classifier"])
    );
    assert_eq!(adapter_config["r"], RANK);
    let weights = tch::Tensor::read_safetensors(peft.join("adapter_model.safetensors")).unwrap();
    let names: Vec<&str> = weights.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"base_model.model.classifier.weight"),
        "{names:?}"
    );
    assert!(
        names.contains(&"base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight")
    );
}
