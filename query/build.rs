//! Links `sluice` as a position-dependent executable.
//!
//! `sluice` is a short-lived command: as a PIE, the loader rewrites every
//! dynamic relocation of the executable on every start. When `sluice` held
//! DataFusion, that was ~170,000 relocations, 3 MB of `.data.rel.ro`, ~950
//! page faults and ~5 ms before `main` (`sluice --version` took 7.3 ms
//! against 3.9 ms for `sluice-ingest`), a quarter of the 20 ms budget of a
//! search. DataFusion now lives in `sluice-sql` (whose build script does
//! the same); tantivy, arrow and Parquet still bring many (a PIE debug
//! build of `sluice-ingest`, which holds them too, has 122,000 relative
//! relocations: `readelf -r`).
//! Without PIE the addresses are fixed at link time and nothing is
//! rewritten. The cost is ASLR for the executable's own image (libraries,
//! stack and heap stay randomized); the command reads local files and opens
//! no sockets. Go links this way by default.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=sluice=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
