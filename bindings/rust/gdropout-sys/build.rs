//! Finds libgdropout through the `pkg-config` program (no crates): the
//! `gdropout` module's -L and -l flags become cargo link directives.
//!
//! Environment: PKG_CONFIG (the program), PKG_CONFIG_PATH / PKG_CONFIG_LIBDIR
//! (where .pc files are, honoured by pkg-config itself), GDROPOUT_STATIC=1
//! (link libgdropout.a and its private dependencies, from `--static`).
use std::env;
use std::process::Command;

fn main() {
    for var in [
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "GDROPOUT_STATIC",
    ] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let want_static = env::var("GDROPOUT_STATIC").map_or(false, |v| v != "0" && !v.is_empty());

    let mut cmd = Command::new(&program);
    cmd.arg("--libs");
    if want_static {
        cmd.arg("--static");
    }
    cmd.arg("gdropout >= 1.0");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("could not run `{}` ({}); install pkgconf, or set PKG_CONFIG", program, e),
    };
    if !out.status.success() {
        panic!(
            "`{} --libs gdropout` failed: {}\nInstall libgdropout-dev, or point \
             PKG_CONFIG_PATH at <prefix>/lib/pkgconfig of an installed copy.",
            program,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let flags = String::from_utf8(out.stdout).expect("pkg-config output is not UTF-8");
    for flag in flags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={}", dir);
        } else if let Some(lib) = flag.strip_prefix("-l") {
            if want_static && lib == "gdropout" {
                println!("cargo:rustc-link-lib=static=gdropout");
            } else {
                println!("cargo:rustc-link-lib={}", lib);
            }
        }
    }
}
