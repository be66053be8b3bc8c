//! Links `sluice-sql` as a position-dependent executable, as `sluice` is
//! (see `query/build.rs`): DataFusion gives it ~170,000 dynamic
//! relocations, which a PIE has the loader rewrite on every start (~5 ms,
//! ~950 page faults), for a command that runs once per statement.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=sluice-sql=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
