//! `cargo run -p score-mlp`: scores a planted MLP, compares with the hand-computed scores,
//! then trains the same weights.

use score_mlp::{hand_scores, score, top_columns, train, Mlp, PLANTED};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mlp = Mlp::new(0);
    let scores = score(&mlp)?;
    let hand = hand_scores(&mlp);
    for (matrix, by_hand) in scores.iter().zip(&hand) {
        let ours = matrix.scores_f32().expect("full scores")?;
        let by_hand = Vec::<f32>::try_from(by_hand.view([-1]))?;
        let diff = ours
            .iter()
            .zip(&by_hand)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{}: max |scorer - by hand| = {diff:.2e}",
            matrix.target.name
        );
    }
    let top = top_columns(&scores[0].col, PLANTED.len());
    println!("first layer, top columns by importance: {top:?} (planted: {PLANTED:?})");
    let (first, last) = train(&mlp, 200)?;
    println!("training the same weights after scoring: loss {first:.4} -> {last:.4}");
    Ok(())
}
