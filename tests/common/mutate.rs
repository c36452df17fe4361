//! A small deterministic mutator for the fuzz smoke test: libFuzzer's kinds of mutation
//! (bit flips, interesting bytes, deletions, repetitions, splices of other inputs, dictionary
//! tokens) driven by a fixed-seed xorshift, so every run tries the same inputs. Not coverage
//! guided: it exercises the fuzz targets' functions on inputs near the seeds.

/// Marsaglia's xorshift64.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes that often matter to parsers.
const INTERESTING: &[u8] = b"\0\x01\x7f\x80\xff\n\r\t ()[]{}<>'\"`\\,.;:=+-*/|%$#@!?";

/// One mutant of a random input of `pool`, at most `max_len` bytes.
pub(crate) fn mutate(
    rng: &mut XorShift,
    pool: &[Vec<u8>],
    dict: &[&[u8]],
    max_len: usize,
) -> Vec<u8> {
    let mut v = pool[rng.below(pool.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                v.drain(start..end);
            }
            3 if len > 0 => {
                // Repeat a short slice: long chains, deep nesting, wide lists.
                let start = rng.below(len);
                let end = (start + 1 + rng.below(12)).min(len);
                let piece = v[start..end].to_vec();
                let most = if rng.below(4) == 0 { 2000 } else { 64 };
                let times = 1 + rng.below(most);
                let at = rng.below(len + 1);
                let repeated: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * times)
                    .collect();
                v.splice(at..at, repeated);
            }
            4 => {
                // Splice a piece of another input.
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(256)).min(other.len());
                    let at = rng.below(len + 1);
                    v.splice(at..at, other[start..end].iter().copied());
                }
            }
            5 if !dict.is_empty() => {
                let token = dict[rng.below(dict.len())];
                let at = rng.below(len + 1);
                v.splice(at..at, token.iter().copied());
            }
            6 if len > 0 => v.truncate(rng.below(len)),
            7 if len > 1 => {
                let (a, b) = (rng.below(len), rng.below(len));
                v.swap(a, b);
            }
            _ => {
                let at = rng.below(len + 1);
                v.insert(at, (rng.next() & 0xff) as u8);
            }
        }
    }
    v.truncate(max_len);
    v
}
