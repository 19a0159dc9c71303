//! Review: replay fuzz/known/sweep-stuck-after-short-page on stable.
#![cfg(not(target_arch = "wasm32"))]
#[path = "../fuzz/checks.rs"]
mod checks;

#[test]
fn known_stuck_sweep_ends() {
    let data = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/known/sweep-stuck-after-short-page"
    ))
    .unwrap();
    checks::sweep(&data);
}
