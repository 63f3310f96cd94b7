//! The scorer on a model of its own: scores equal the hand-computed ones, find the planted
//! features, and leave the weights trainable.

use score_mlp::{hand_scores, score, top_columns, train, Mlp, PLANTED};

#[test]
fn scores_equal_the_hand_computed_sum_of_weight_times_gradient() {
    let mlp = Mlp::new(0);
    let scores = score(&mlp).unwrap();
    let hand = hand_scores(&mlp);
    assert_eq!(scores.len(), 2);
    for (matrix, by_hand) in scores.iter().zip(&hand) {
        let ours = matrix.scores_f32().unwrap().unwrap();
        let by_hand = Vec::<f32>::try_from(by_hand.view([-1])).unwrap();
        let scale = by_hand.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (a, b) in ours.iter().zip(&by_hand) {
            assert!(
                (a - b).abs() <= 1e-5 * scale,
                "{}: {a} vs {b}",
                matrix.target.name
            );
        }
    }
}

#[test]
fn the_planted_features_carry_the_first_layer_importance() {
    let scores = score(&Mlp::new(0)).unwrap();
    assert_eq!(scores[0].target.name, "first.weight");
    assert_eq!(top_columns(&scores[0].col, PLANTED.len()), PLANTED);
}

#[test]
fn the_weights_stay_trainable_and_move_after_scoring() {
    let mlp = Mlp::new(0);
    let before: Vec<_> = mlp.weights().map(|(_, w)| w.copy()).into();
    score(&mlp).unwrap();
    for (_, weight) in mlp.weights() {
        assert!(
            weight.requires_grad(),
            "the scorer handed the weight back trainable"
        );
    }
    let (first, last) = train(&mlp, 100).unwrap();
    assert!(last < 0.7 * first, "loss {first} -> {last}");
    for ((name, after), before) in mlp.weights().iter().zip(&before) {
        let moved = (after - before).abs().max().double_value(&[]);
        assert!(moved > 1e-3, "{name} did not move ({moved})");
    }
}

#[test]
fn the_example_binary_runs() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_score-mlp"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("top columns by importance: [2, 9, 13]"),
        "{stdout}"
    );
}
