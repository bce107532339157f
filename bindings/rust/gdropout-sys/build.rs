//! Finds libgdropout through the `pkg-config` program (no crates): the
//! `gdropout` module's -L and -l flags become cargo link directives.
//!
//! Environment: PKG_CONFIG (the program), PKG_CONFIG_PATH / PKG_CONFIG_LIBDIR
//! (where .pc files are, honoured by pkg-config itself), GDROPOUT_STATIC=1
//! (link libgdropout.a and its private dependencies, from `--static`).
//!
//! The module's `libdir` is always a search directory: pkgconf leaves the
//! system's own `-L` (`/usr/lib/<multiarch>`) out of `--libs`, which the C
//! compiler does not need but rustc does for a `static=` library.
use std::env;
use std::path::Path;
use std::process::Command;

/// `pkg-config ARGS... gdropout >= 1.0`'s standard output, or a panic that
/// says what to install.
fn pkg_config(program: &str, args: &[&str]) -> String {
    let out = match Command::new(program).args(args).arg("gdropout >= 1.0").output() {
        Ok(out) => out,
        Err(e) => panic!("could not run `{}` ({}); install pkgconf, or set PKG_CONFIG", program, e),
    };
    if !out.status.success() {
        panic!(
            "`{} {} gdropout` failed: {}\nInstall libgdropout-dev, or point \
             PKG_CONFIG_PATH at <prefix>/lib/pkgconfig of an installed copy.",
            program,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).expect("pkg-config output is not UTF-8")
}

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

    let libdir = pkg_config(&program, &["--variable=libdir"]).trim().to_string();
    if !libdir.is_empty() {
        if want_static && !Path::new(&libdir).join("libgdropout.a").is_file() {
            panic!(
                "GDROPOUT_STATIC=1, but {}/libgdropout.a does not exist (Debian: install \
                 libgdropout-dev; a CMake install has it)",
                libdir
            );
        }
        println!("cargo:rustc-link-search=native={}", libdir);
    }
    let flags = if want_static {
        pkg_config(&program, &["--libs", "--static"])
    } else {
        pkg_config(&program, &["--libs"])
    };
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
