//! A short, bounded fuzz run of every target inside the test suite: the seed files as they are,
//! then mutated inputs, under a memory cap, so that a reader that panics, aborts or allocates
//! what a header declares fails `cargo test`. Long campaigns run with `taso-fuzz run`.

use std::time::{Duration, Instant};

use cap::Cap;
use taso_fuzz::{case, Corpus, Scratch, Target};

/// Past 1 GiB an allocation aborts this test binary: the inputs are at most a few hundred KiB,
/// so only a size taken from a header on trust gets there.
#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, 1 << 30);

/// Inputs per target, and the wall-clock time after which a target stops early.
const CASES: u64 = 2000;
const TIME: Duration = Duration::from_secs(15);

/// The campaign seed of the bounded run (long campaigns use 0 and on).
const SEED: u64 = 0x7e57;

fn fuzz(target: Target) {
    let corpus = Corpus::load(&Corpus::dir_of(target)).unwrap();
    let scratch = Scratch::new().unwrap();
    let start = Instant::now();
    for n in 0..CASES {
        if n >= corpus.len() as u64 && start.elapsed() > TIME {
            break;
        }
        let input = case(&corpus, SEED, n);
        let slow = Instant::now();
        scratch.run(target, &input).unwrap();
        assert!(
            slow.elapsed() < Duration::from_secs(10),
            "{} input {n} took {:?}: replay with `taso-fuzz replay --target {}` on \
             the input made by taso_fuzz::case(seed {SEED}, number {n})",
            target.name(),
            slow.elapsed(),
            target.name()
        );
    }
}

#[test]
fn safetensors_readers_survive_mutated_inputs() {
    fuzz(Target::Safetensors);
}

#[test]
fn gguf_readers_survive_mutated_inputs() {
    fuzz(Target::Gguf);
}

#[test]
fn task_toml_readers_survive_mutated_inputs() {
    fuzz(Target::TaskToml);
}

#[test]
fn tsv_readers_survive_mutated_inputs() {
    fuzz(Target::Tsv);
}

#[test]
fn jsonl_readers_survive_mutated_inputs() {
    fuzz(Target::Jsonl);
}

#[test]
fn inputs_are_a_function_of_seed_and_number() {
    let corpus = Corpus::load(&Corpus::dir_of(Target::Gguf)).unwrap();
    let n = corpus.len() as u64 + 5;
    assert_eq!(case(&corpus, 1, n), case(&corpus, 1, n));
    assert_ne!(case(&corpus, 1, n), case(&corpus, 2, n));
}
