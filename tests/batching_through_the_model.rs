//! The data and model crates together, through the umbrella crate: dynamic padding must not
//! change what the model computes. Each RTE dev example run alone (no padding) and inside a
//! length-bucketed padded batch gives the same sentence representation.

use std::path::Path;
use taso::data::{
    load_task, pad_batch, plan_batches, resolve_data_dir_from, BatchStrategy, Split, TextTokenizer,
};
use taso::models::{BatchTensors, Encoder};
use tch::{Device, Tensor};

#[test]
fn padded_batches_give_the_same_outputs_as_single_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model_dir = root.join("models/all-MiniLM-L6-v2");
    assert!(
        model_dir.join("model.safetensors").is_file(),
        "run scripts/bootstrap.sh first"
    );
    let data_dir = resolve_data_dir_from(None, root).expect("task data (run scripts/bootstrap.sh)");
    let examples = load_task("rte")
        .unwrap()
        .read_split(&data_dir, Split::Dev)
        .unwrap();
    let examples = &examples[..24];
    let tokenizer = TextTokenizer::from_file(&model_dir.join("tokenizer.json"), 128).unwrap();
    let encodings = tokenizer.encode(examples).unwrap();
    let labels: Vec<_> = examples.iter().map(|e| e.label).collect();
    let lengths: Vec<usize> = encodings.iter().map(|e| e.len()).collect();
    let encoder = Encoder::load(&model_dir, Device::Cpu).unwrap();
    let first_token = |indices: &[usize]| -> Tensor {
        let batch = BatchTensors::new(
            &pad_batch(&encodings, &labels, indices, tokenizer.pad_id()),
            Device::Cpu,
        );
        tch::no_grad(|| {
            encoder
                .forward(&batch.encoder_input(), false, false)
                .last_hidden_state
                .select(1, 0)
        })
    };
    let plan = plan_batches(&lengths, 8, BatchStrategy::Random, 3, 0);
    let mut worst = 0f64;
    for batch in &plan {
        let together = first_token(batch);
        for (row, &index) in batch.iter().enumerate() {
            let alone = first_token(&[index]);
            worst = worst
                .max(f64::try_from((together.get(row as i64) - alone.get(0)).abs().max()).unwrap());
        }
    }
    assert!(worst < 1e-4, "padding changed a [CLS] vector by {worst}");
}
