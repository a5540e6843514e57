//! Picks the linker memory map for the QEMU machine the firmware runs on.
//!
//! The machine is `$FIRMWARE_MACHINE` if set, else the default for the target
//! (the same table as `scripts/qemu-test.sh`). `memory/<machine>.x` is copied
//! to `$OUT_DIR/memory.x`, where cortex-m-rt's `link.x` finds it.

use std::{env, fs, path::PathBuf};

fn default_machine(target: &str) -> &'static str {
    match target {
        "thumbv6m-none-eabi" | "thumbv7m-none-eabi" => "lm3s6965evb",
        "thumbv7em-none-eabihf" | "thumbv7em-none-eabi" => "mps2-an386",
        other => panic!("no default QEMU machine for target {other}; set FIRMWARE_MACHINE"),
    }
}

fn main() {
    let target = env::var("TARGET").unwrap();
    let machine = env::var("FIRMWARE_MACHINE").unwrap_or_else(|_| default_machine(&target).into());
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest.join("memory").join(format!("{machine}.x"));
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::copy(&src, out.join("memory.x"))
        .unwrap_or_else(|e| panic!("{}: {e} (unknown FIRMWARE_MACHINE?)", src.display()));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FIRMWARE_MACHINE");

    // defmt's linker script (its interned strings, out of flash), for the
    // binaries that log with defmt: the others carry no defmt symbols.
    for bin in ["defmt_log", "size_defmt_base", "size_defmt_probe"] {
        println!("cargo:rustc-link-arg-bin={bin}=-Tdefmt.x");
    }

    // Shown in the test output.
    println!("cargo:rustc-env=FIRMWARE_MACHINE={machine}");
    println!("cargo:rustc-env=FIRMWARE_TARGET={target}");

    // Targets without compare-and-swap get their atomics from portable-atomic
    // (a target-specific dependency in Cargo.toml: keep the two in sync).
    println!("cargo::rustc-check-cfg=cfg(fw_no_cas)");
    if target.starts_with("thumbv6m-") {
        println!("cargo:rustc-cfg=fw_no_cas");
    }
}
