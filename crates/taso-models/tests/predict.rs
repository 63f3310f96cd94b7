//! `predict` over a split: length-sorted batches, results back in example order.

use std::path::Path;
use taso_data::{Encoding, Label, Predictions, TokenizedSplit};
use taso_models::{predict, HeadInit, HeadKind, SequenceClassifier};
use tch::{Device, Tensor};

#[test]
fn predictions_come_back_in_example_order_and_match_the_reference_logits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert");
    let reference: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("reference.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    let ids = Vec::<Vec<i64>>::try_from(&reference["input_ids"]).unwrap();
    let types = Vec::<Vec<i64>>::try_from(&reference["token_type_ids"]).unwrap();
    let mask = Vec::<Vec<i64>>::try_from(&reference["attention_mask"]).unwrap();
    let encodings: Vec<Encoding> = (0..ids.len())
        .map(|i| {
            let real = mask[i].iter().filter(|&&m| m == 1).count();
            Encoding {
                input_ids: ids[i][..real].iter().map(|&t| t as u32).collect(),
                token_type_ids: types[i][..real].iter().map(|&t| t as u32).collect(),
            }
        })
        .collect();
    let split = TokenizedSplit {
        labels: vec![Some(Label::Class(0)); encodings.len()],
        encodings,
        pad_id: 0,
    };
    let model = SequenceClassifier::load(
        &dir,
        HeadKind::Classification(3),
        HeadInit::Checkpoint,
        Device::Cpu,
    )
    .unwrap();
    let expected: Vec<usize> = Vec::<i64>::try_from(reference["logits"].argmax(-1, false))
        .unwrap()
        .into_iter()
        .map(|c| c as usize)
        .collect();
    for batch_size in [1, 3, 8] {
        let Predictions::Classes(classes) = predict(&model, &split, batch_size, Device::Cpu) else {
            panic!("a classifier predicts classes")
        };
        assert_eq!(classes, expected, "batch size {batch_size}");
    }
}
