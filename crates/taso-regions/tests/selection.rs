//! Selection on hand-made importance where the answer is known.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use taso_artifact::{Regions, Target};
use taso_regions::allocate::uniform_sizes;
use taso_regions::{
    select_regions, Allocation, Budget, LineRule, Normalize, RegionsConfig, RegionsError,
    ScoreMatrix, Shape,
};

/// A matrix from full scores (marginals computed from them).
fn matrix(name: &str, d_out: usize, d_in: usize, scores: Vec<f32>) -> ScoreMatrix {
    let target = Target {
        name: name.into(),
        d_out,
        d_in,
    };
    ScoreMatrix::from_scores(target, scores).unwrap()
}

/// Zero everywhere but `value` on `rows` × `cols`.
fn block(
    name: &str,
    (d_out, d_in): (usize, usize),
    rows: &[usize],
    cols: &[usize],
    value: f32,
) -> ScoreMatrix {
    let scores = (0..d_out * d_in)
        .map(|k| {
            if rows.contains(&(k / d_in)) && cols.contains(&(k % d_in)) {
                value
            } else {
                0.0
            }
        })
        .collect();
    matrix(name, d_out, d_in, scores)
}

/// Noise in [0, 0.001) everywhere plus `hot` on the planted rows × columns.
fn planted(
    name: &str,
    (d_out, d_in): (usize, usize),
    rows: &[usize],
    cols: &[usize],
    hot: f32,
    rng: &mut ChaCha8Rng,
) -> ScoreMatrix {
    let scores = (0..d_out * d_in)
        .map(|k| {
            let noise = rng.random_range(0.0..0.001);
            let planted = rows.contains(&(k / d_in)) && cols.contains(&(k % d_in));
            if planted {
                hot + noise
            } else {
                noise
            }
        })
        .collect();
    matrix(name, d_out, d_in, scores)
}

fn kept(regions: &Regions, name: &str) -> Option<(Vec<usize>, Vec<usize>)> {
    let m = regions.matrices.iter().find(|m| m.target.name == name)?;
    let to_usize = |v: &[i64]| v.iter().map(|&i| i as usize).collect();
    Some((to_usize(&m.rows), to_usize(&m.cols)))
}

/// Three matrices of different shapes, each with a planted block of 10% of its rows and
/// columns; the blocks hold exactly 1% of all entries.
fn three_planted() -> Vec<ScoreMatrix> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    vec![
        planted("a", (40, 20), &[3, 17, 22, 39], &[5, 11], 1.0, &mut rng),
        planted("b", (20, 40), &[0, 9], &[1, 2, 30, 31], 5.0, &mut rng),
        planted(
            "c",
            (60, 60),
            &[1, 2, 3, 10, 20, 59],
            &[0, 7, 8, 9, 40, 50],
            2.0,
            &mut rng,
        ),
    ]
}

fn config(allocation: Allocation, rank: usize, budget: usize) -> RegionsConfig {
    RegionsConfig {
        allocation,
        rank,
        budget: Budget::Absolute(budget),
        ..RegionsConfig::default()
    }
}

#[test]
fn uniform_finds_the_planted_rows_and_columns_at_the_same_fraction() {
    let matrices = three_planted();
    // Rank 2, 48 parameters: exactly 10% of the rows and columns of every matrix.
    for rule in [LineRule::CoreCount, LineRule::Marginal] {
        let config = RegionsConfig {
            row_score: rule,
            col_score: rule,
            ..config(Allocation::Uniform, 2, 48)
        };
        let regions = select_regions(&matrices, &config, 0).unwrap();
        assert_eq!(regions.used(), 48);
        assert_eq!(regions.budget, 48);
        for m in &matrices {
            let (rows, cols) = kept(&regions, &m.target.name).unwrap();
            let expect_rows: Vec<usize> = (0..m.target.d_out).filter(|&i| m.row[i] > 1.0).collect();
            let expect_cols: Vec<usize> = (0..m.target.d_in).filter(|&j| m.col[j] > 1.0).collect();
            assert_eq!(
                (rows, cols),
                (expect_rows, expect_cols),
                "{} ({rule:?})",
                m.target.name
            );
            let (r, c) = (m.target.d_out / 10, m.target.d_in / 10);
            let region = regions
                .matrices
                .iter()
                .find(|x| x.target == m.target)
                .unwrap();
            assert_eq!((region.rows.len(), region.cols.len()), (r, c));
        }
        for c in &regions.coverage {
            assert!(c.share > 0.9 && c.random_share == 0.01, "{c:?}");
        }
    }
}

#[test]
fn uniform_sizes_take_the_largest_fraction_that_fits() {
    let targets: Vec<Target> = three_planted().into_iter().map(|m| m.target).collect();
    let (f, sizes) = uniform_sizes(&targets, 2, 48, Shape::Block).unwrap();
    assert_eq!(f.value(), 0.1);
    assert_eq!(sizes, [(4, 2), (2, 4), (6, 6)]);
    // One parameter short of 10%: the next lower fraction, 1/12 (5 of 60).
    let (f, sizes) = uniform_sizes(&targets, 2, 47, Shape::Block).unwrap();
    assert_eq!(f.value(), 5.0 / 60.0);
    assert_eq!(sizes, [(3, 1), (1, 3), (5, 5)]);
    // Every matrix keeps at least one row and column; less is refused.
    assert_eq!(
        uniform_sizes(&targets, 2, 12, Shape::Block).unwrap().1,
        [(1, 1); 3]
    );
    let err = uniform_sizes(&targets, 2, 11, Shape::Block).unwrap_err();
    assert!(
        matches!(err, RegionsError::BudgetTooSmall { needed: 12, .. }),
        "{err}"
    );
    // A budget beyond dense keeps everything.
    assert_eq!(
        uniform_sizes(&targets, 1, 10_000, Shape::Block).unwrap().1,
        [(40, 20), (20, 40), (60, 60)]
    );
}

#[test]
fn one_axis_shapes_keep_the_other_axis_whole_at_the_same_budget() {
    let targets: Vec<Target> = three_planted().into_iter().map(|m| m.target).collect();
    // Rank 2, 360 parameters: all 120 input columns plus half of the 120 output rows.
    let (f, sizes) = uniform_sizes(&targets, 2, 360, Shape::Rows).unwrap();
    assert_eq!(f.value(), 0.5);
    assert_eq!(sizes, [(20, 20), (10, 40), (30, 60)]);
    let (f, sizes) = uniform_sizes(&targets, 2, 360, Shape::Columns).unwrap();
    assert_eq!(f.value(), 0.5);
    assert_eq!(sizes, [(40, 10), (20, 20), (60, 30)]);
    // One row per matrix across all columns costs 2 (3 + 120).
    let err = uniform_sizes(&targets, 2, 245, Shape::Rows).unwrap_err();
    assert!(
        matches!(err, RegionsError::BudgetTooSmall { needed: 246, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("across all columns"), "{err}");

    let matrices = three_planted();
    let rows_only = RegionsConfig {
        shape: Shape::Rows,
        ..config(Allocation::Uniform, 2, 360)
    };
    let block = select_regions(&matrices, &config(Allocation::Uniform, 2, 48), 0).unwrap();
    let regions = select_regions(&matrices, &rows_only, 0).unwrap();
    for ((region, block), target) in regions.matrices.iter().zip(&block.matrices).zip(&targets) {
        assert_eq!(region.cols.len(), target.d_in);
        // The planted rows are the best-ranked ones, so they lead the larger selection.
        assert!(block.rows.iter().all(|r| region.rows.contains(r)));
    }
    let random = RegionsConfig {
        shape: Shape::Columns,
        ..config(Allocation::Random, 2, 360)
    };
    let regions = select_regions(&matrices, &random, 3).unwrap();
    for (region, (rows, cols)) in regions.matrices.iter().zip(sizes) {
        assert_eq!((region.rows.len(), region.cols.len()), (rows, cols));
    }
    let global = RegionsConfig {
        shape: Shape::Rows,
        ..config(Allocation::Global, 2, 360)
    };
    let err = global.validate().unwrap_err().to_string();
    assert!(err.contains("shape") && err.contains("global"), "{err}");
}

#[test]
fn global_favours_concentrated_importance_and_skips_a_matrix_without_any() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let concentrated = block("concentrated", (30, 30), &[4, 5], &[10], 1.0);
    let diffuse = matrix(
        "diffuse",
        30,
        30,
        (0..900).map(|_| rng.random_range(0.0..0.01)).collect(),
    );
    let empty = matrix("empty", 30, 30, vec![0.0; 900]);
    let matrices = [concentrated, diffuse, empty];
    let base = RegionsConfig {
        core_fraction: 2.0 / 2700.0,
        ..config(Allocation::Global, 1, 5)
    };
    // 5 parameters at rank 1: the 3 planted lines, then 1 row + 1 column open `diffuse`.
    let regions = select_regions(&matrices, &base, 0).unwrap();
    assert_eq!(kept(&regions, "concentrated"), Some((vec![4, 5], vec![10])));
    let (rows, cols) = kept(&regions, "diffuse").unwrap();
    assert_eq!((rows.len(), cols.len()), (1, 1));
    assert_eq!(kept(&regions, "empty"), None);
    assert_eq!(regions.used(), 5);
    assert_eq!(regions.coverage.len(), 2);

    // min_rows / min_cols: opening a matrix costs that much at once.
    let config = RegionsConfig {
        min_rows: 3,
        min_cols: 2,
        ..base.clone()
    };
    let regions = select_regions(&matrices, &config, 0).unwrap();
    let (rows, cols) = kept(&regions, "concentrated").unwrap();
    assert!(rows.len() == 3 && cols.len() == 2 && rows.contains(&4) && rows.contains(&5));
    assert_eq!(
        kept(&regions, "diffuse"),
        None,
        "5 - 5 leaves nothing to open it"
    );

    // A budget that cannot open any matrix is refused.
    let config = RegionsConfig {
        min_rows: 3,
        min_cols: 3,
        ..base
    };
    let err = select_regions(&matrices, &config, 0).unwrap_err();
    assert!(
        matches!(err, RegionsError::BudgetTooSmall { needed: 6, .. }),
        "{err}"
    );
}

#[test]
fn global_spends_more_on_the_more_important_matrix() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let hot_rows: Vec<usize> = (0..12).collect();
    let strong = planted("strong", (24, 24), &hot_rows, &hot_rows, 1.0, &mut rng);
    let weak = planted("weak", (24, 24), &[0, 1], &[0, 1], 1.0, &mut rng);
    let config = RegionsConfig {
        core_fraction: 0.2,
        ..config(Allocation::Global, 2, 40)
    };
    let regions = select_regions(&[strong, weak], &config, 0).unwrap();
    let size = |name| kept(&regions, name).map_or(0, |(r, c)| r.len() + c.len());
    assert!(
        size("strong") > size("weak"),
        "{} vs {}",
        size("strong"),
        size("weak")
    );
    assert!(regions.used() <= 40);
}

#[test]
fn random_allocation_is_seeded_and_has_the_uniform_sizes() {
    let matrices = three_planted();
    let random = config(Allocation::Random, 2, 48);
    let a = select_regions(&matrices, &random, 11).unwrap();
    let again = select_regions(&matrices, &random, 11).unwrap();
    let other = select_regions(&matrices, &random, 12).unwrap();
    assert_eq!(a.matrices, again.matrices);
    assert_ne!(a.matrices, other.matrices);
    let uniform = select_regions(&matrices, &config(Allocation::Uniform, 2, 48), 0).unwrap();
    for (r, u) in a.matrices.iter().zip(&uniform.matrices) {
        assert_eq!((r.rows.len(), r.cols.len()), (u.rows.len(), u.cols.len()));
    }
    assert_ne!(a.matrices, uniform.matrices);
    // Random blocks cover about what random blocks cover; aligned ones far more.
    let mean = |r: &Regions| r.coverage.iter().map(|c| c.share).sum::<f64>() / 3.0;
    assert!(
        mean(&uniform) > 0.9 && mean(&a) < 0.5,
        "{} {}",
        mean(&uniform),
        mean(&a)
    );
}

#[test]
fn matrix_mean_normalisation_moves_the_core_to_the_peaked_matrix() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // `loud` has scores around 100 with no structure; `quiet` has scores around 0.01 with a
    // peak in row 2, column 3.
    let loud = matrix(
        "loud",
        8,
        8,
        (0..64).map(|_| rng.random_range(100.0..101.0)).collect(),
    );
    let quiet = planted("quiet", (8, 8), &[2], &[3], 1.0, &mut rng);
    let matrices = [loud, quiet];
    let base = RegionsConfig {
        core_fraction: 1.0 / 128.0,
        ..config(Allocation::Global, 1, 2)
    };
    let raw = select_regions(&matrices, &base, 0).unwrap();
    assert!(kept(&raw, "loud").is_some() && kept(&raw, "quiet").is_none());
    let normalised = RegionsConfig {
        normalize: Normalize::MatrixMean,
        ..base
    };
    let regions = select_regions(&matrices, &normalised, 0).unwrap();
    assert_eq!(kept(&regions, "quiet"), Some((vec![2], vec![3])));
    assert_eq!(kept(&regions, "loud"), None);
}

#[test]
fn zero_importance_is_refused_unless_random() {
    let m = matrix("z", 4, 4, vec![0.0; 16]);
    for allocation in [Allocation::Uniform, Allocation::Global] {
        let err = select_regions(std::slice::from_ref(&m), &config(allocation, 1, 4), 0);
        assert!(matches!(err, Err(RegionsError::ZeroImportance)));
    }
    let regions = select_regions(&[m], &config(Allocation::Random, 1, 4), 0).unwrap();
    assert_eq!(regions.coverage[0].share, 0.0);
}

/// Random shapes, scores and settings: the budget is never exceeded and indices are valid.
#[test]
fn budget_is_never_exceeded() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (mut selected, mut refused) = (0, 0);
    for case in 0..200 {
        let n = rng.random_range(1..5);
        let matrices: Vec<ScoreMatrix> = (0..n)
            .map(|i| {
                let (d_out, d_in) = (rng.random_range(1..25), rng.random_range(1..25));
                let sparsity = rng.random_range(0.0..1.0);
                let scores = (0..d_out * d_in)
                    .map(|_| {
                        if rng.random_bool(sparsity) {
                            0.0
                        } else {
                            rng.random_range(0.0..10.0)
                        }
                    })
                    .collect();
                matrix(&format!("m{i}"), d_out, d_in, scores)
            })
            .collect();
        let rank1: usize = matrices
            .iter()
            .map(|m| m.target.d_out + m.target.d_in)
            .sum();
        let rule = |rng: &mut ChaCha8Rng| {
            if rng.random_bool(0.5) {
                LineRule::CoreCount
            } else {
                LineRule::Marginal
            }
        };
        let config = RegionsConfig {
            core_fraction: rng.random_range(0.001..1.0),
            normalize: if rng.random_bool(0.5) {
                Normalize::None
            } else {
                Normalize::MatrixMean
            },
            row_score: rule(&mut rng),
            col_score: rule(&mut rng),
            budget: Budget::Absolute(rng.random_range(1..3 * rank1)),
            rank: rng.random_range(1..9),
            allocation: [Allocation::Uniform, Allocation::Global, Allocation::Random]
                [rng.random_range(0..3)],
            shape: Shape::Block,
            min_rows: rng.random_range(1..4),
            min_cols: rng.random_range(1..4),
            heatmaps: false,
        };
        let config = RegionsConfig {
            shape: match config.allocation {
                Allocation::Global => Shape::Block,
                _ => [Shape::Block, Shape::Rows, Shape::Columns][rng.random_range(0..3)],
            },
            ..config
        };
        match select_regions(&matrices, &config, case) {
            Ok(regions) => {
                selected += 1;
                assert!(regions.used() <= regions.budget, "case {case}: {config:?}");
                assert!(!regions.matrices.is_empty());
                let (select_rows, select_cols) = config.shape.selects();
                for m in &regions.matrices {
                    assert!(select_rows || m.rows.len() == m.target.d_out, "case {case}");
                    assert!(select_cols || m.cols.len() == m.target.d_in, "case {case}");
                    for (kept, d) in [(&m.rows, m.target.d_out), (&m.cols, m.target.d_in)] {
                        assert!(!kept.is_empty(), "case {case}");
                        assert!(
                            kept.windows(2).all(|w| w[0] < w[1]),
                            "case {case}: {kept:?}"
                        );
                        assert!(
                            kept.iter().all(|&i| i >= 0 && (i as usize) < d),
                            "case {case}"
                        );
                    }
                }
                for c in &regions.coverage {
                    assert!((0.0..=1.0 + 1e-9).contains(&c.share), "case {case}: {c:?}");
                }
            }
            Err(RegionsError::BudgetTooSmall { needed, budget, .. }) => {
                refused += 1;
                assert!(needed > budget, "case {case}");
            }
            Err(RegionsError::ZeroImportance) => refused += 1,
            Err(other) => panic!("case {case}: {other}"),
        }
    }
    assert!(
        selected > 100 && refused > 0,
        "{selected} selected, {refused} refused"
    );
}
