//! The causal-LM loss of the stages counts exactly the answer tokens.

use taso_data::{PromptEncoding, PromptSplit};
use taso_models::testing::TinyDecoderSpec;
use taso_models::{
    answer_log_probs, CausalLm, CausalTensors, ChoiceTensors, DecoderInput, TaskBatch, TaskModel,
};
use tch::{Device, Kind};

#[test]
fn the_loss_is_the_mean_cross_entropy_of_the_answer_tokens() {
    let dir = tempfile::tempdir().unwrap();
    TinyDecoderSpec::default().write(dir.path()).unwrap();
    let lm = CausalLm::load(dir.path(), Device::Cpu).unwrap();
    let encoding = |prompt: &[u32], answer: &[u32]| PromptEncoding {
        prompt_ids: prompt.to_vec(),
        answer_ids: vec![answer.to_vec()],
        gold: Some(0),
        truncated: 0,
    };
    let split = PromptSplit {
        encodings: vec![encoding(&[2, 10, 11], &[7, 8]), encoding(&[2, 12], &[9])],
        pad_id: 0,
    };
    let batch = CausalTensors::new(&split.training_batch(&[0, 1]), Device::Cpu);

    // By hand: the full logits, and the log-probability of each answer token at the position
    // before it (row 0: tokens 7, 8 at positions 3, 4; row 1: token 9 at position 2).
    let input = DecoderInput {
        input_ids: &batch.input_ids,
        attention_mask: &batch.attention_mask,
    };
    let log_probs = tch::no_grad(|| lm.forward(&input).unwrap()).log_softmax(-1, Kind::Double);
    let lp =
        |row: i64, position: i64, token: i64| log_probs.double_value(&[row, position - 1, token]);
    let expected = [lp(0, 3, 7), lp(0, 4, 8), lp(1, 2, 9)];
    let hand_loss = -expected.iter().sum::<f64>() / 3.0;

    let (tokens, rows) = tch::no_grad(|| answer_log_probs(&lm, &batch)).unwrap();
    let tokens = Vec::<f64>::try_from(tokens.to_kind(Kind::Double)).unwrap();
    for (got, want) in tokens.iter().zip(expected) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    assert_eq!(Vec::<i64>::try_from(rows).unwrap(), [0, 0, 1]);

    let model = TaskModel::CausalLm(lm);
    let loss = tch::no_grad(|| model.loss(&TaskBatch::Causal(batch), false)).unwrap();
    let loss = loss.double_value(&[]);
    assert!((loss - hand_loss).abs() < 1e-5, "{loss} vs {hand_loss}");
    assert!(model.head_parameters().is_empty(), "lm_head stays frozen");
}

#[test]
fn the_choice_loss_is_the_cross_entropy_over_the_candidates_first_tokens() {
    let dir = tempfile::tempdir().unwrap();
    TinyDecoderSpec::default().write(dir.path()).unwrap();
    let lm = CausalLm::load(dir.path(), Device::Cpu).unwrap();
    let encoding = |prompt: &[u32], gold: usize| PromptEncoding {
        prompt_ids: prompt.to_vec(),
        answer_ids: vec![vec![7, 8], vec![9]],
        gold: Some(gold),
        truncated: 0,
    };
    let split = PromptSplit {
        encodings: vec![encoding(&[2, 10, 11], 0), encoding(&[2, 12], 1)],
        pad_id: 0,
    };
    let batch = CausalTensors::new(&split.training_batch(&[0, 1]), Device::Cpu);
    let choices = ChoiceTensors::new(&split.first_token_choices(&[0, 1]).unwrap(), Device::Cpu);

    // By hand: at the position before each row's answer (row 0: 2, row 1: 1), the log-softmax
    // over the logits of tokens 7 and 9 alone, at the gold one (row 0: 7, row 1: 9).
    let input = DecoderInput {
        input_ids: &batch.input_ids,
        attention_mask: &batch.attention_mask,
    };
    let logits = tch::no_grad(|| lm.forward(&input).unwrap()).to_kind(Kind::Double);
    let choice = |row: i64, position: i64, gold: i64| {
        let pick = |token: i64| logits.double_value(&[row, position, token]);
        let (a, b) = (pick(7), pick(9));
        let log_sum = a.max(b) + ((a - a.max(b)).exp() + (b - a.max(b)).exp()).ln();
        [a, b][gold as usize] - log_sum
    };
    let hand_loss = -(choice(0, 2, 0) + choice(1, 1, 1)) / 2.0;

    let model = TaskModel::CausalLm(lm);
    let (_, weight) = &model.base_parameters()[1];
    let weight = weight.set_requires_grad(true);
    let batch = TaskBatch::Causal(batch);
    let mut grads = Vec::new();
    for checkpointed in [false, true] {
        let loss = model
            .choice_loss_backward(&batch, &choices, checkpointed, 1.0)
            .unwrap()
            .double_value(&[]);
        assert!((loss - hand_loss).abs() < 1e-5, "{loss} vs {hand_loss}");
        grads.push(weight.grad().copy());
        let _ = weight.grad().zero_();
    }
    assert!(grads[0].abs().sum(Kind::Double).double_value(&[]) > 0.0);
    assert!(
        grads[0].allclose(&grads[1], 1e-5, 1e-7, false),
        "checkpointing changes nothing"
    );
}
