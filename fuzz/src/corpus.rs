//! Seed files and the deterministic inputs made from them.

use std::io;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::mutate::mutate;
use crate::Target;

/// The seed files of one target, sorted by name.
#[derive(Debug, Clone)]
pub struct Corpus {
    seeds: Vec<(String, Vec<u8>)>,
}

impl Corpus {
    /// The corpus folder of `target` in this repository: `fuzz/corpus/<target>/`.
    pub fn dir_of(target: Target) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target.name())
    }

    /// Reads every file of `dir`; fails when there is none.
    pub fn load(dir: &Path) -> io::Result<Corpus> {
        let mut seeds = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                seeds.push((name, std::fs::read(entry.path())?));
            }
        }
        if seeds.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} holds no seed files", dir.display()),
            ));
        }
        seeds.sort();
        Ok(Corpus { seeds })
    }

    /// Number of seed files.
    pub fn len(&self) -> usize {
        self.seeds.len()
    }

    /// Whether there are no seeds (never, for a loaded corpus).
    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }

    /// The seed files' contents.
    pub fn contents(&self) -> impl Iterator<Item = &[u8]> {
        self.seeds.iter().map(|(_, bytes)| bytes.as_slice())
    }
}

/// Input number `index` of the campaign `seed`: the first `corpus.len()` inputs are the seed
/// files themselves (so regression seeds are replayed as they are), every later one a seed file
/// mutated by a generator seeded from `(seed, index)` alone.
pub fn case(corpus: &Corpus, seed: u64, index: u64) -> Vec<u8> {
    if let Some((_, bytes)) = corpus.seeds.get(index as usize) {
        return bytes.clone();
    }
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17));
    let seeds: Vec<&[u8]> = corpus.contents().collect();
    mutate(&seeds, &mut rng)
}
