//! Adapters on the tiny BERT: compact vs masked, init, dense LoRA, merge, refusals.

use taso_adapter::testing::*;
use taso_adapter::{AdapterError, AdapterSet, LoraConfig, LoraForm, MatrixAdapter};
use taso_artifact::{MatrixRegion, Target};
use taso_models::{Linear, LinearHost};
use tch::{Device, Kind, Tensor};

fn adapters(rank: usize, seed: i64) -> AdapterSet {
    let regions = random_regions(&load_model(), &ADAPTED, rank, seed);
    let config = LoraConfig {
        alpha: Some(4.0),
        ..LoraConfig::default()
    };
    let set = AdapterSet::init(&regions, &config, 0, Device::Cpu).unwrap();
    randomize(&set, seed);
    set
}

#[test]
fn compact_and_masked_forms_give_the_same_logits_and_gradients() {
    let compact = adapters(3, 1);
    let masked = compact.to_form(LoraForm::Masked);
    let (mut compact_model, mut masked_model) = (load_model(), load_model());
    compact.attach(&mut compact_model).unwrap();
    masked.attach(&mut masked_model).unwrap();
    let (compact_logits, masked_logits) = (logits(&compact_model), logits(&masked_model));
    assert!(max_abs_diff(&compact_logits, &logits(&load_model())) > 1e-3);
    assert!(max_abs_diff(&compact_logits, &masked_logits) <= 1e-6);

    loss(&compact_model).backward();
    loss(&masked_model).backward();
    for (c, m) in compact.matrices().iter().zip(masked.matrices()) {
        let region = c.region();
        let (rows, cols) = (
            Tensor::from_slice(&region.rows),
            Tensor::from_slice(&region.cols),
        );
        let (grad_a, grad_b) = (m.a().grad(), m.b().grad());
        assert!(max_abs_diff(&c.a().grad(), &grad_a.index_select(1, &cols)) <= 1e-6);
        assert!(max_abs_diff(&c.b().grad(), &grad_b.index_select(0, &rows)) <= 1e-6);
        assert!(f64::try_from(c.b().grad().abs().max()).unwrap() > 0.0);
        // Outside the masks the gradients are exactly zero.
        let outside_a = grad_a.index_fill(1, &cols, 0.0).abs().max();
        let outside_b = grad_b.index_fill(0, &rows, 0.0).abs().max();
        assert_eq!(f64::try_from(outside_a).unwrap(), 0.0, "{}", c.name());
        assert_eq!(f64::try_from(outside_b).unwrap(), 0.0, "{}", c.name());
    }
}

#[test]
fn the_initial_adapters_leave_the_model_unchanged() {
    let mut model = load_model();
    let base = logits(&model);
    let regions = random_regions(&model, &ADAPTED, 4, 2);
    for form in [LoraForm::Compact, LoraForm::Masked] {
        let config = LoraConfig {
            form,
            ..LoraConfig::default()
        };
        let set = AdapterSet::init(&regions, &config, 5, Device::Cpu).unwrap();
        set.attach(&mut model).unwrap();
        assert!(
            model
                .linears()
                .iter()
                .filter(|l| l.adapter().is_some())
                .count()
                == ADAPTED.len()
        );
        assert_eq!(max_abs_diff(&logits(&model), &base), 0.0, "{form:?}");
        set.detach(&mut model).unwrap();
        assert!(model.linears().iter().all(|l| l.adapter().is_none()));
    }
}

#[test]
fn detaching_some_matrices_leaves_the_others_working_and_attach_restores_all() {
    let set = adapters(2, 4);
    let mut model = load_model();
    let base = tch::no_grad(|| logits(&model));
    set.attach(&mut model).unwrap();
    let adapted = tch::no_grad(|| logits(&model));
    let first = set.matrices()[0].name().to_string();
    set.detach_where(&mut model, |name| name == first).unwrap();
    let attached: Vec<&str> = model
        .linears()
        .iter()
        .filter(|l| l.adapter().is_some())
        .map(|l| l.name())
        .collect();
    assert_eq!(attached.len(), set.matrices().len() - 1);
    assert!(!attached.contains(&first.as_str()));
    let without_first = tch::no_grad(|| logits(&model));
    assert!(max_abs_diff(&without_first, &adapted) > 1e-4);
    assert!(max_abs_diff(&without_first, &base) > 1e-4);
    set.attach(&mut model).unwrap();
    assert_eq!(
        max_abs_diff(&tch::no_grad(|| logits(&model)), &adapted),
        0.0
    );
    set.detach_where(&mut model, |_| true).unwrap();
    assert_eq!(max_abs_diff(&tch::no_grad(|| logits(&model)), &base), 0.0);
}

#[test]
fn dense_lora_is_x_wt_plus_b_plus_s_x_at_bt() {
    let (d_out, d_in, rank) = (5i64, 4i64, 2i64);
    let options = (Kind::Float, Device::Cpu);
    let (weight, bias) = (
        Tensor::randn([d_out, d_in], options),
        Tensor::randn([d_out], options),
    );
    let (a, b) = (
        Tensor::randn([rank, d_in], options),
        Tensor::randn([d_out, rank], options),
    );
    let region = MatrixRegion {
        target: Target {
            name: "dense".into(),
            d_out: 5,
            d_in: 4,
        },
        rows: (0..d_out).collect(),
        cols: (0..d_in).collect(),
    };
    let matrix = MatrixAdapter::new(region, LoraForm::Compact, 2, a.copy(), b.copy()).unwrap();
    let mut linear = Linear::new("dense", weight.copy(), Some(bias.copy()));
    linear.set_adapter(Some(matrix.adapter(0.75)));
    let x = Tensor::randn([2, 3, d_in], options);
    let expected = x.matmul(&weight.tr()) + &bias + x.matmul(&a.tr()).matmul(&b.tr()) * 0.75;
    assert!(max_abs_diff(&tch::no_grad(|| linear.forward(&x)), &expected) <= 1e-5);
}

#[test]
fn merging_reproduces_the_adapted_model_and_unmerging_restores_the_base() {
    let set = adapters(2, 3);
    let mut model = load_model();
    let base_weights: Vec<Tensor> = model.linears().iter().map(|l| l.weight.copy()).collect();
    set.attach(&mut model).unwrap();
    let adapted = tch::no_grad(|| logits(&model));
    let err = set.merge_into(&mut model).unwrap_err();
    assert!(
        matches!(err, AdapterError::AttachedWhileMerging(_)),
        "{err}"
    );
    set.detach(&mut model).unwrap();
    set.merge_into(&mut model).unwrap();
    assert!(max_abs_diff(&tch::no_grad(|| logits(&model)), &adapted) <= 1e-5);

    for (linear, base) in model.linears().iter().zip(&base_weights) {
        let change = (&linear.weight - base).abs();
        match set.matrices().iter().find(|m| m.name() == linear.name()) {
            None => assert_eq!(f64::try_from(change.max()).unwrap(), 0.0),
            Some(m) => {
                let rows = Tensor::from_slice(&m.region().rows);
                let cols = Tensor::from_slice(&m.region().cols);
                let block = change.index_select(0, &rows).index_select(1, &cols);
                let mut outside = change.copy();
                let kept = [Some(rows.unsqueeze(1)), Some(cols.unsqueeze(0))];
                let _ = outside.index_put_(&kept, &Tensor::from(0f32), false);
                assert_eq!(f64::try_from(outside.max()).unwrap(), 0.0, "{}", m.name());
                assert!(f64::try_from(block.min()).unwrap() > 0.0, "{}", m.name());
            }
        }
    }
    set.unmerge_from(&mut model).unwrap();
    for (linear, base) in model.linears().iter().zip(&base_weights) {
        assert!(
            max_abs_diff(&linear.weight, base) <= 1e-6,
            "{}",
            linear.name()
        );
    }
}

#[test]
fn regions_for_another_model_are_refused_before_anything_is_attached() {
    let mut model = load_model();
    let mut regions = random_regions(&model, &ADAPTED, 2, 4);
    regions.matrices[1].target.name = "encoder.layer.7.attention.self.query".into();
    let set = AdapterSet::init(&regions, &LoraConfig::default(), 0, Device::Cpu).unwrap();
    let err = set.attach(&mut model).unwrap_err().to_string();
    assert!(
        err.contains("encoder.layer.7.attention.self.query")
            && err.contains("re-run `taso-regions`"),
        "{err}"
    );
    assert!(model.linears().iter().all(|l| l.adapter().is_none()));

    let mut regions = random_regions(&model, &ADAPTED, 2, 4);
    regions.matrices[0].target.d_out = 64;
    let set = AdapterSet::init(&regions, &LoraConfig::default(), 0, Device::Cpu).unwrap();
    let err = set.attach(&mut model).unwrap_err();
    assert!(matches!(err, AdapterError::ShapeMismatch { .. }), "{err}");
}

/// Fixed values of `shape` that no other test's random draws can change: sin(0.7·i + phase).
fn wave(shape: &[i64], phase: f64) -> Tensor {
    let count = shape.iter().product::<i64>();
    (Tensor::arange(count, (Kind::Float, Device::Cpu)) * 0.7 + phase)
        .sin()
        .view(shape)
}

/// Forward output and the gradients of input, A and B of a bf16 layer with an adapter on
/// output `rows`: through `adapt`, or (`reference`) by the formula — the f32 sum rounded once.
fn bf16_layer(rows: &[i64], reference: bool) -> Vec<Tensor> {
    let (d_out, d_in, rank) = (6i64, 5i64, 2i64);
    let weight = wave(&[d_out, d_in], 1.0).to_kind(Kind::BFloat16);
    let x = wave(&[2, 3, d_in], 2.0).set_requires_grad(true);
    let (a, b) = (
        wave(&[rank, d_in], 3.0),
        wave(&[rows.len() as i64, rank], 4.0),
    );
    let region = MatrixRegion {
        target: Target {
            name: "layer".into(),
            d_out: d_out as usize,
            d_in: d_in as usize,
        },
        rows: rows.to_vec(),
        cols: (0..d_in).collect(),
    };
    let matrix = MatrixAdapter::new(region, LoraForm::Compact, 2, a, b).unwrap();
    let input = x.to_kind(Kind::BFloat16);
    let base = input.linear(&weight, None::<&Tensor>);
    let out = if reference {
        let low_rank = input
            .to_kind(Kind::Float)
            .linear(matrix.a(), None::<&Tensor>)
            * 0.5;
        let delta = low_rank.linear(matrix.b(), None::<&Tensor>);
        let rows = Tensor::from_slice(rows);
        let sum = base.to_kind(Kind::Float).index_add(-1, &rows, &delta);
        sum.to_kind(Kind::BFloat16)
    } else {
        matrix.adapter(0.5).adapt(&input, base)
    };
    assert_eq!(out.kind(), Kind::BFloat16);
    let upstream = wave(&out.size(), 5.0);
    (out.to_kind(Kind::Float) * upstream)
        .sum(Kind::Float)
        .backward();
    vec![
        out.to_kind(Kind::Float),
        x.grad(),
        matrix.a().grad(),
        matrix.b().grad(),
    ]
}

#[test]
fn a_half_precision_layer_gets_the_f32_update_rounded_once() {
    for rows in [vec![0, 1, 2, 3, 4, 5], vec![1, 4]] {
        let (ours, reference) = (bf16_layer(&rows, false), bf16_layer(&rows, true));
        let names = ["output", "input gradient", "A gradient", "B gradient"];
        for (name, (x, y)) in names.iter().zip(ours.iter().zip(&reference)) {
            assert_eq!(max_abs_diff(x, y), 0.0, "{name} with rows {rows:?}");
        }
    }
}
