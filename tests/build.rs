//! Copies the first tutorial's table declaration (`tables/src/web.rs` in
//! `docs/tutorials/declare-your-first-table.md`) into `OUT_DIR`, so that the
//! end-to-end tests compile it with the real derive and follow the tutorial's
//! steps with it: the tutorial cannot drift from the product unnoticed.

use std::path::PathBuf;

fn main() {
    let tutorial = "../docs/tutorials/declare-your-first-table.md";
    println!("cargo::rerun-if-changed={tutorial}");
    let text = std::fs::read_to_string(tutorial).expect("the first tutorial is readable");
    let after = text
        .split_once("Create `tables/src/web.rs`:")
        .expect("the tutorial creates `tables/src/web.rs`")
        .1;
    let code = after
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a Rust block follows")
        .0;
    // A module's inner doc comment cannot sit inside `include!`.
    let code: String = code
        .lines()
        .filter(|line| !line.starts_with("//!"))
        .map(|line| format!("{line}\n"))
        .collect();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("tutorial_web.rs"), code).expect("OUT_DIR is writable");
}
