//! The declarations in gdropout-sys/src/lib.rs against include/gdropout/*.h: the same
//! functions, each parameter and result of the Rust type the C type maps
//! to (constness of pointees included), and every constant with the same
//! value.  Any divergence fails; the test needs the source tree's headers.
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

const RUST_SOURCE: &str = include_str!("../../gdropout-sys/src/lib.rs");

fn header_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../include/gdropout")
}

fn headers() -> String {
    let mut names: Vec<PathBuf> = fs::read_dir(header_dir())
        .expect("include/gdropout not found (run from a source tree)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().map_or(false, |e| e == "h"))
        .collect();
    names.sort();
    let text: String = names.iter().map(|p| fs::read_to_string(p).unwrap()).collect();
    strip_c_comments(&text)
}

fn strip_c_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("*/").expect("unterminated comment");
        rest = &rest[i + end + 2..];
    }
    out.push_str(rest);
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A C parameter or result declaration as the Rust type it must be.
fn rust_type_of(c: &str) -> String {
    let c = c.replace('*', " * ").replace('[', " [ ");
    let toks: Vec<&str> = c.split_whitespace().collect();
    let is_const = toks.first() == Some(&"const");
    let mut stars = toks.iter().filter(|t| **t == "*").count();
    if toks.contains(&"[") {
        stars += 1; // an array parameter is a pointer
    }
    let base = toks.iter().find(|t| **t != "const" && **t != "struct").unwrap();
    let base = match *base {
        "void" => "()",
        "int" => "c_int",
        "unsigned" => "c_uint",
        "char" => "c_char",
        "size_t" => "usize",
        "float" => "f32",
        "double" => "f64",
        "uint8_t" => "u8",
        "uint32_t" => "u32",
        "uint64_t" => "u64",
        other => other, // gd_stream, gd_fisher, gd_plan
    };
    if stars == 0 {
        return base.to_string();
    }
    let base = if base == "()" { "c_void" } else { base }; // void * is *mut c_void
    // const binds to the innermost pointee; outer pointers are mutable
    let mut t = format!("*{} {}", if is_const { "const" } else { "mut" }, base);
    for _ in 1..stars {
        t = format!("*mut {}", t);
    }
    t
}

/// {name: (result, [param types])} from the headers.
fn c_functions() -> BTreeMap<String, (String, Vec<String>)> {
    // declarations only: the preprocessor lines define GD_API itself
    let text: String = headers()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{}\n", l))
        .collect();
    let mut out = BTreeMap::new();
    for decl in text.split("GD_API").skip(1) {
        let decl = &decl[..decl.find(';').unwrap()];
        let decl = squash(&decl.replace("GD_NODISCARD", ""));
        let open = decl.find('(').unwrap();
        let head = decl[..open].trim();
        let name_at = head.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap() + 1;
        let (res, name) = (head[..name_at].trim(), &head[name_at..]);
        let params = &decl[open + 1..decl.rfind(')').unwrap()];
        let types: Vec<String> = if params.trim() == "void" {
            Vec::new()
        } else {
            params
                .split(',')
                .map(|p| {
                    // drop the parameter name (the last identifier)
                    let p = p.trim();
                    let p = match p.find('[') {
                        Some(i) => format!("{}[", strip_last_ident(&p[..i])),
                        None => strip_last_ident(p).to_string(),
                    };
                    rust_type_of(&p)
                })
                .collect()
        };
        out.insert(name.to_string(), (rust_type_of(res), types));
    }
    out
}

fn strip_last_ident(p: &str) -> &str {
    let p = p.trim_end();
    let cut = p.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    &p[..cut]
}

/// {name: (result, [param types])} from src/lib.rs.
fn rust_functions() -> BTreeMap<String, (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for decl in RUST_SOURCE.split("pub fn ").skip(1) {
        let decl = squash(&decl[..decl.find(';').unwrap()]);
        let open = decl.find('(').unwrap();
        let close = decl.rfind(')').unwrap();
        let name = decl[..open].to_string();
        let types = decl[open + 1..close]
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| squash(&p[p.find(':').unwrap() + 1..]))
            .collect();
        let res = match decl[close + 1..].trim().strip_prefix("->") {
            Some(r) => squash(r),
            None => "()".to_string(),
        };
        out.insert(name, (res, types));
    }
    out
}

#[test]
fn same_functions_and_signatures() {
    let c = c_functions();
    let r = rust_functions();
    assert!(c.len() > 40, "parsed only {} C declarations", c.len());
    let c_names: Vec<&String> = c.keys().collect();
    let r_names: Vec<&String> = r.keys().collect();
    assert_eq!(c_names, r_names, "function sets differ");
    for (name, sig) in &c {
        assert_eq!(&r[name], sig, "{}: Rust (left) differs from the header (right)", name);
    }
}

/// The GD_VERSION_* macros of the generated <gdropout/version.h>: CMake
/// writes them from `project(gdropout VERSION major.minor.patch ...)`.
fn cmake_version() -> BTreeMap<String, i64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../CMakeLists.txt");
    let text = fs::read_to_string(path).expect("CMakeLists.txt not found (run from a source tree)");
    let start = text.find("project(gdropout VERSION ").expect("no project(gdropout VERSION ...)");
    let version = text[start..].split_whitespace().nth(2).expect("no version after VERSION");
    let parts: Vec<i64> = version.split('.').map(|p| p.parse().expect("version part")).collect();
    assert_eq!(parts.len(), 3, "project VERSION is not major.minor.patch: {}", version);
    ["MAJOR", "MINOR", "PATCH"]
        .iter()
        .zip(parts)
        .map(|(n, v)| (format!("GD_VERSION_{}", n), v))
        .collect()
}

/// `NAME = value` in enums, `X(NAME, value, ...)` in the error list, and
/// the version (see cmake_version).
fn c_constants() -> BTreeMap<String, i64> {
    let text = headers();
    let mut out = cmake_version();
    for line in text.lines() {
        let line = line.trim().trim_end_matches(&['\\', ','][..]).trim();
        let (name, value) = if let Some(rest) = line.strip_prefix("X(") {
            let mut it = rest.splitn(3, ',');
            (it.next().unwrap().trim(), it.next().unwrap().trim())
        } else if let Some(eq) = line.find(" = ") {
            (line[..eq].trim(), line[eq + 3..].trim())
        } else {
            continue;
        };
        if name.starts_with("GD_") && !name.ends_with('_') {
            if let Ok(v) = value.parse::<i64>() {
                out.insert(name.to_string(), v);
            }
        }
    }
    out
}

#[test]
fn same_constants() {
    use gdropout_sys::*;
    let rust: BTreeMap<&str, i64> = [
        ("GD_VERSION_MAJOR", GD_VERSION_MAJOR as i64),
        ("GD_VERSION_MINOR", GD_VERSION_MINOR as i64),
        ("GD_VERSION_PATCH", GD_VERSION_PATCH as i64),
        ("GD_OK", GD_OK as i64),
        ("GD_EINVAL", GD_EINVAL as i64),
        ("GD_EDOMAIN", GD_EDOMAIN as i64),
        ("GD_EOVERFLOW", GD_EOVERFLOW as i64),
        ("GD_ESHAPE", GD_ESHAPE as i64),
        ("GD_ENOTFOUND", GD_ENOTFOUND as i64),
        ("GD_EEXIST", GD_EEXIST as i64),
        ("GD_ENOMEM", GD_ENOMEM as i64),
        ("GD_EIO", GD_EIO as i64),
        ("GD_EFORMAT", GD_EFORMAT as i64),
        ("GD_ESTATE", GD_ESTATE as i64),
        ("GD_REDUCE_TENSOR_MEAN", GD_REDUCE_TENSOR_MEAN as i64),
        ("GD_REDUCE_ELEMENT_MEAN", GD_REDUCE_ELEMENT_MEAN as i64),
        ("GD_REDUCE_SUM", GD_REDUCE_SUM as i64),
        ("GD_REDUCE_MAX", GD_REDUCE_MAX as i64),
        ("GD_AXIS_ROWS", GD_AXIS_ROWS as i64),
        ("GD_AXIS_COLS", GD_AXIS_COLS as i64),
        ("GD_RULE_UNIFORM", GD_RULE_UNIFORM as i64),
        ("GD_RULE_RANK_LINEAR", GD_RULE_RANK_LINEAR as i64),
        ("GD_RULE_SCORE_LINEAR", GD_RULE_SCORE_LINEAR as i64),
        ("GD_RULE_LOG_SCORE_LINEAR", GD_RULE_LOG_SCORE_LINEAR as i64),
        ("GD_CONTROL_REVERSED", GD_CONTROL_REVERSED as i64),
        ("GD_CONTROL_PERMUTED", GD_CONTROL_PERMUTED as i64),
        ("GD_CONTROL_KIND", GD_CONTROL_KIND as i64),
        ("GD_CONTROL_MATCHED", GD_CONTROL_MATCHED as i64),
        ("GD_F32", GD_F32 as i64),
        ("GD_BF16", GD_BF16 as i64),
        ("GD_F16", GD_F16 as i64),
        ("GD_MASK_32", GD_MASK_32 as i64),
        ("GD_MASK_16", GD_MASK_16 as i64),
    ]
    .into_iter()
    .collect();
    let c = c_constants();
    let c_ref: BTreeMap<&str, i64> = c.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(rust, c_ref, "constants differ: Rust (left), header (right)");
}

#[test]
fn layout_and_library_agree() {
    use gdropout_sys::*;
    assert_eq!(std::mem::size_of::<gd_stream>(), 24);
    assert_eq!(std::mem::align_of::<gd_stream>(), 8);
    unsafe {
        assert_eq!(gd_version() >> 16, GD_VERSION_MAJOR);
        assert_eq!(gd_none(), GD_NONE);
    }
}
