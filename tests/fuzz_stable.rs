//! The fuzz targets of `fuzz/` (cargo-fuzz, nightly) run briefly on stable:
//! each target's check (`fuzz/checks.rs`, shared with the targets) over its
//! seeds and a fixed-seed pseudo-random corpus grown from them by mutation,
//! a bounded number of inputs per target. Long runs: see fuzz/README.md.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/checks.rs"]
mod checks;

/// SplitMix64: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces worth splicing in: JSON syntax, escapes, numbers at the edges of
/// an f64, URL and header syntax.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udc00",
    b"\\ud83d\\ude00",
    b"1e308",
    b"1e309",
    b"-0",
    b"0.5e-400",
    b"true",
    b"null",
    b" ",
    b"\n",
    b"\x00",
    b"\xff",
    "é".as_bytes(),
    b"/",
    b"?",
    b"#",
    b"%2e",
    b"..",
    b"@",
    b"<",
    b">",
    b";",
    b"=",
    b"rel=next",
    b"GMT",
    b"99999999999999999999",
    b"\"data\":",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if !input.is_empty() => {
                let at = at.min(input.len() - 1);
                input[at] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(input.len());
                input.drain(at.min(end)..end);
            }
            2 => input.insert(at, rng.next() as u8),
            3 if !input.is_empty() => {
                // Repeat a slice of the input.
                let a = rng.below(input.len());
                let b = (a + 1 + rng.below(16)).min(input.len());
                let piece = input[a..b].to_vec();
                input.splice(at..at, piece);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                input.splice(at..at, t.iter().copied());
            }
        }
    }
    input.truncate(4096);
}

fn run(name: &str, inputs: usize) {
    let check = checks::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap();
    // The seeds, and the inputs kept in fuzz/seeds/ (crashes once fixed).
    let mut seeds = checks::seeds(name);
    let dir = format!("{}/fuzz/seeds/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut kept: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    kept.sort();
    seeds.extend(kept.iter().filter_map(|p| std::fs::read(p).ok()));
    let mut rng = Rng(0x5eed ^ (name.len() as u64 * 0x1000_0001));
    for s in &seeds {
        check(s);
    }
    for i in 0..inputs {
        let mut input = match i % 4 {
            // Random bytes, or a seed changed a little or a lot.
            0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
            _ if seeds.is_empty() => Vec::new(),
            _ => seeds[rng.below(seeds.len())].clone(),
        };
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut input);
        }
        let result = std::panic::catch_unwind(|| check(&input));
        if let Err(e) = result {
            panic!("{name}: input {input:?} failed (see the panic above): {e:?}");
        }
    }
}

#[test]
fn scanner() {
    run("scanner", 3000);
}

#[test]
fn link() {
    run("link", 2000);
}

#[test]
fn retry_after() {
    run("retry_after", 2000);
}

#[test]
fn content_range() {
    run("content_range", 2000);
}

#[test]
fn http_date() {
    run("http_date", 3000);
}

#[test]
fn checkpoint() {
    run("checkpoint", 2000);
}

#[test]
fn url_join() {
    run("url_join", 2000);
}

#[test]
fn sweep() {
    run("sweep", 2000);
}
