//! Byte-level mutations, biased towards what breaks readers: sizes and counts set to extremes,
//! numbers in text rewritten, structure cut, repeated or spliced from another seed, bytes that are
//! not UTF-8.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Values a length, count or offset field is set to.
const INTERESTING_U64: [u64; 14] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    1 << 40,
    1 << 62,
    i64::MAX as u64,
    u64::MAX,
];

/// Replacements for a run of decimal digits in text (JSON headers, TOML, TSV labels).
const INTERESTING_NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "1",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e308",
    "-0",
    "NaN",
    "1.5",
];

/// Single bytes that mean something to one of the formats.
const INTERESTING_BYTES: [u8; 16] = [
    0, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'}', b'[', b']', b',', b':', b'=', b'\n', b'\t', b'\\',
];

/// Byte sequences that are not valid UTF-8 or are odd text.
const ODD_TEXT: [&[u8]; 6] = [
    b"\xc3",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\r",
    b"\xed\xa0\x80",
    b"\"\"\"",
];

/// One input made from a random seed by a stack of 1 to 8 mutations (or, rarely, random bytes).
pub fn mutate(seeds: &[&[u8]], rng: &mut ChaCha8Rng) -> Vec<u8> {
    if rng.random_ratio(1, 64) {
        let len = rng.random_range(0..512);
        return (0..len).map(|_| rng.random()).collect();
    }
    let mut bytes = seeds.choose(rng).map(|s| s.to_vec()).unwrap_or_default();
    for _ in 0..rng.random_range(1..=8) {
        mutate_once(&mut bytes, seeds, rng);
    }
    bytes
}

fn mutate_once(bytes: &mut Vec<u8>, seeds: &[&[u8]], rng: &mut ChaCha8Rng) {
    if bytes.is_empty() {
        bytes.push(rng.random());
        return;
    }
    match rng.random_range(0..10) {
        0 => {
            let at = offset(bytes.len(), rng);
            bytes[at] ^= 1 << rng.random_range(0..8);
        }
        1 => {
            let at = offset(bytes.len(), rng);
            bytes[at] = *INTERESTING_BYTES.choose(rng).unwrap();
        }
        2 => overwrite_integer(bytes, rng),
        3 => {
            let (start, end) = range(bytes.len(), rng);
            bytes.drain(start..end);
        }
        4 => {
            let (start, end) = range(bytes.len(), rng);
            let chunk = bytes[start..end].to_vec();
            let at = rng.random_range(0..=bytes.len());
            bytes.splice(at..at, chunk);
        }
        5 => splice_other(bytes, seeds, rng),
        6 => bytes.truncate(rng.random_range(0..bytes.len())),
        7 => rewrite_number(bytes, rng),
        8 => {
            let at = rng.random_range(0..=bytes.len());
            let text = *ODD_TEXT.choose(rng).unwrap();
            bytes.splice(at..at, text.iter().copied());
        }
        _ => {
            let at = rng.random_range(0..=bytes.len());
            let count = rng.random_range(1..=16);
            let random: Vec<u8> = (0..count).map(|_| rng.random()).collect();
            bytes.splice(at..at, random);
        }
    }
}

/// An offset, half the time within the first 2 KiB where headers are.
fn offset(len: usize, rng: &mut ChaCha8Rng) -> usize {
    if rng.random_bool(0.5) {
        rng.random_range(0..len.min(2048))
    } else {
        rng.random_range(0..len)
    }
}

/// A range of up to 64 bytes (or, rarely, up to the whole input).
fn range(len: usize, rng: &mut ChaCha8Rng) -> (usize, usize) {
    let start = offset(len, rng);
    let longest = if rng.random_ratio(1, 8) { len } else { 64 };
    let end = (start + rng.random_range(1..=longest)).min(len);
    (start, end)
}

/// Writes an extreme value, or one near the input's length, as a little-endian u32 or u64.
fn overwrite_integer(bytes: &mut [u8], rng: &mut ChaCha8Rng) {
    let len = bytes.len() as u64;
    let value = match rng.random_range(0..4) {
        0 => len.wrapping_add(rng.random_range(0..3)).wrapping_sub(1),
        _ => *INTERESTING_U64.choose(rng).unwrap(),
    };
    let width = if rng.random_bool(0.5) { 8 } else { 4 };
    let at = offset(bytes.len(), rng);
    let end = (at + width).min(bytes.len());
    bytes[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
}

/// Replaces a run of ASCII digits with an interesting number.
fn rewrite_number(bytes: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    let from = offset(bytes.len(), rng);
    let Some(start) = (from..bytes.len()).find(|&i| bytes[i].is_ascii_digit()) else {
        return;
    };
    let end = (start..bytes.len())
        .find(|&i| !bytes[i].is_ascii_digit())
        .unwrap_or(bytes.len());
    let number = INTERESTING_NUMBERS.choose(rng).unwrap();
    bytes.splice(start..end, number.bytes());
}

/// Overwrites or inserts a chunk of another seed.
fn splice_other(bytes: &mut Vec<u8>, seeds: &[&[u8]], rng: &mut ChaCha8Rng) {
    let Some(other) = seeds.choose(rng).filter(|s| !s.is_empty()) else {
        return;
    };
    let (start, end) = range(other.len(), rng);
    let at = rng.random_range(0..=bytes.len());
    if rng.random_bool(0.5) {
        let end_at = (at + end - start).min(bytes.len());
        bytes.splice(at..end_at, other[start..end].iter().copied());
    } else {
        bytes.splice(at..at, other[start..end].iter().copied());
    }
}
