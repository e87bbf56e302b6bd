//! Records the cargo profile the harness is built in, read from its build
//! directory (`<target>/<profile dir>/build/e2e-<hash>/out`), so that at run
//! time it builds the programs under test in the same profile, whatever the
//! target directory (`CARGO_TARGET_DIR`) or profile (`--release`,
//! `--profile <custom>`). Cargo's own `PROFILE` variable names only
//! `debug` or `release`, never a custom profile.

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    let profile_dir = std::path::Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(|dir| dir.file_name())
        .and_then(|name| name.to_str())
        .expect("OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out");
    let profile = match profile_dir {
        "debug" => "dev",
        other => other,
    };
    println!("cargo:rustc-env=E2E_BUILD_PROFILE={profile}");
    println!("cargo:rerun-if-changed=build.rs");
}
