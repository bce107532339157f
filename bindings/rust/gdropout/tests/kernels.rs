//! The kernels through the safe binding, against the contract written out
//! in Rust (an independent Philox and the drop rule).
use gdropout::{ErrorKind, MaskSource, Stream};

/// Philox4x32-10 exactly as Random123 defines it.
fn philox(mut c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let (mut k0, mut k1) = (k[0], k[1]);
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(0x9E37_79B9);
            k1 = k1.wrapping_add(0xBB67_AE85);
        }
        let p0 = u64::from(0xD251_1F53u32) * u64::from(c[0]);
        let p1 = u64::from(0xCD9E_8D57u32) * u64::from(c[2]);
        c = [(p1 >> 32) as u32 ^ c[1] ^ k0, p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k1, p0 as u32];
    }
    c
}

fn word(seed: u64, stream: u64, i: u64) -> u32 {
    let b = i / 4;
    let ctr = [b as u32, (b >> 32) as u32, stream as u32, (stream >> 32) as u32];
    philox(ctr, [seed as u32, (seed >> 32) as u32])[(i % 4) as usize]
}

fn kept(r: u32, p: f32) -> bool {
    let t: u64 = if p >= 1.0 { 1 << 32 } else { (f64::from(p) * 4294967296.0).floor() as u64 };
    u64::from(r) >= t
}

fn scale(p: f32) -> f32 {
    (1.0 / (1.0 - f64::from(p))) as f32
}

fn bit(mask: &[u8], j: usize) -> bool {
    (mask[j / 8] >> (j % 8)) & 1 == 1
}

fn data(n: usize, seed: u32) -> Vec<f32> {
    // xorshift, not the generator under test
    let mut s = seed.wrapping_mul(2654435761).max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 4.0 - 2.0
        })
        .collect()
}

const S: Stream = Stream { seed: 0x0123_4567_89AB_CDEF, stream: 0xFEDC_BA98_7654_3210, offset: 13 };

#[test]
fn philox_known_answers() {
    let kat: [([u32; 4], [u32; 2], [u32; 4]); 2] = [
        ([0; 4], [0; 2], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
        (
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
        ),
    ];
    for (ctr, key, want) in kat {
        assert_eq!(gdropout::philox4x32_10(ctr, key), want);
        assert_eq!(philox(ctr, key), want);
    }
}

#[test]
fn words_follow_the_layout() {
    for off in [0u64, 3, (1 << 34) - 7, u64::MAX - 100] {
        let mut r = vec![0u32; 101];
        gdropout::random_u32(&mut r, &S.at(off)).unwrap();
        for (j, w) in r.iter().enumerate() {
            assert_eq!(*w, word(S.seed, S.stream, off + j as u64), "offset {} j {}", off, j);
        }
    }
    let mut r = vec![0u32; 102];
    let e = gdropout::random_u32(&mut r, &S.at(u64::MAX - 100)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Overflow);
}

#[test]
fn masks_follow_the_rule() {
    let n = 1001;
    for p in [0.0f32, 1e-9, 0.1, 0.5, 0.9, 1.0] {
        let mut m = vec![0u8; gdropout::mask_bytes(n)];
        gdropout::mask_bernoulli(&mut m, n, p, &S).unwrap();
        for j in 0..n {
            assert_eq!(bit(&m, j), kept(word(S.seed, S.stream, S.offset + j as u64), p));
        }
        assert_eq!(m[n / 8] >> (n % 8), 0, "padding bits are 0");
    }
}

#[test]
fn forward_backward() {
    let (n, p) = (777, 0.3f32);
    let (x, dy) = (data(n, 1), data(n, 2));
    let mut y = vec![0.0f32; n];
    let mut m = vec![0u8; gdropout::mask_bytes(n)];
    gdropout::dropout_fwd(&mut y, &x, p, &S, Some(&mut m)).unwrap();
    for j in 0..n {
        let want = if bit(&m, j) { x[j] * scale(p) } else { 0.0 };
        assert_eq!(y[j].to_bits(), want.to_bits());
        assert_eq!(bit(&m, j), kept(word(S.seed, S.stream, S.offset + j as u64), p));
    }
    let mut dx1 = vec![0.0f32; n];
    let mut dx2 = vec![0.0f32; n];
    gdropout::dropout_bwd(&mut dx1, &dy, p, MaskSource::Mask(&m)).unwrap();
    gdropout::dropout_bwd(&mut dx2, &dy, p, MaskSource::Regenerate(&S)).unwrap();
    let mut dx3 = dy.clone();
    gdropout::dropout_bwd_inplace(&mut dx3, p, MaskSource::Mask(&m)).unwrap();
    let mut fwd_dy = vec![0.0f32; n];
    gdropout::dropout_fwd(&mut fwd_dy, &dy, p, &S, None).unwrap();
    assert_eq!(dx1, fwd_dy);
    assert_eq!(dx2, fwd_dy);
    assert_eq!(dx3, fwd_dy);
    let mut inplace = x.clone();
    gdropout::dropout_fwd_inplace(&mut inplace, p, &S, None).unwrap();
    assert_eq!(inplace, y);
}

#[test]
fn split_calls_equal_one_call() {
    let x = data(1000, 3);
    let mut whole = vec![0.0f32; 1000];
    gdropout::dropout_fwd(&mut whole, &x, 0.4, &S, None).unwrap();
    let mut parts = vec![0.0f32; 1000];
    for (a, b) in [(0usize, 5usize), (5, 600), (600, 1000)] {
        let s = S.at(S.offset + a as u64);
        gdropout::dropout_fwd(&mut parts[a..b], &x[a..b], 0.4, &s, None).unwrap();
    }
    assert_eq!(parts, whole);
}

#[test]
fn per_column_and_fused() {
    let (rows, cols) = (13, 5);
    let n = rows * cols;
    let x = data(n, 4);
    let pc = [0.0f32, 0.1, 0.5, 0.9, 1.0];
    let mut y = vec![0.0f32; n];
    let mut m = vec![0u8; gdropout::mask_bytes(n)];
    gdropout::dropout_fwd_cols(&mut y, &x, rows, cols, &pc, &S, Some(&mut m)).unwrap();
    for j in 0..n {
        let p = pc[j % cols];
        let k = kept(word(S.seed, S.stream, S.offset + j as u64), p);
        assert_eq!(bit(&m, j), k);
        assert_eq!(y[j].to_bits(), if k { x[j] * scale(p) } else { 0.0 }.to_bits());
    }
    let mut dx = vec![0.0f32; n];
    gdropout::dropout_bwd_cols(&mut dx, &x, rows, cols, &pc, MaskSource::Regenerate(&S)).unwrap();
    assert_eq!(dx, y);

    let bias = data(cols, 5);
    let res = data(n, 6);
    gdropout::dropout_add_fwd(
        &mut y,
        &x,
        Some(&bias),
        Some(&res),
        rows,
        cols,
        0.25,
        &S,
        Some(&mut m),
    )
    .unwrap();
    for j in 0..n {
        let v = if bit(&m, j) { (x[j] + bias[j % cols]) * scale(0.25) } else { 0.0 };
        assert_eq!(y[j].to_bits(), (res[j] + v).to_bits());
    }
    let mut db = vec![0.0f32; cols];
    gdropout::dropout_add_bwd(&mut dx, Some(&mut db), &x, rows, cols, 0.25, MaskSource::Mask(&m))
        .unwrap();
    for c in 0..cols {
        let sum: f64 = (0..rows).map(|r| f64::from(dx[r * cols + c])).sum();
        assert_eq!(db[c], sum as f32);
    }
    let mut sums = vec![0.0f32; cols];
    gdropout::sum_cols(&mut sums, &dx, rows, cols).unwrap();
    assert_eq!(sums, db);
}

#[test]
fn gaussian() {
    let n = 1000;
    let x = data(n, 7);
    let sigma = gdropout::gaussian_sigma(0.1).unwrap();
    assert_eq!(sigma, (0.1f32 as f64 / (1.0 - 0.1f32 as f64)).sqrt() as f32);
    let mut z = vec![0.0f32; n];
    gdropout::random_normal(&mut z, &S).unwrap();
    let mut y = vec![0.0f32; n];
    gdropout::gaussian_dropout_fwd(&mut y, &x, sigma, &S).unwrap();
    for j in 0..n {
        assert_eq!(y[j].to_bits(), (x[j] * (1.0 + sigma * z[j])).to_bits());
    }
    let mut dx = vec![0.0f32; n];
    gdropout::gaussian_dropout_bwd(&mut dx, &x, sigma, &S).unwrap();
    assert_eq!(dx, y);
    let mut inplace = x.clone();
    gdropout::gaussian_dropout_inplace(&mut inplace, sigma, &S).unwrap();
    assert_eq!(inplace, y);
    let mean = z.iter().map(|v| f64::from(*v)).sum::<f64>() / n as f64;
    assert!(mean.abs() < 0.2, "mean {}", mean); // 6 standard errors
    assert_eq!(gdropout::gaussian_sigma(1.0).unwrap_err().kind(), ErrorKind::Domain);
}

#[test]
fn errors_carry_code_and_message_and_leave_outputs() {
    let x = [1.0f32; 8];
    let mut y = [7.0f32; 8];
    for p in [1.5f32, -0.1, f32::NAN] {
        let e = gdropout::dropout_fwd(&mut y, &x, p, &S, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Domain);
        assert_eq!(e.code(), gdropout::sys::GD_EDOMAIN);
        assert_eq!(e.name(), "GD_EDOMAIN");
        assert!(e.message().contains("domain"), "{}", e.message());
        assert_eq!(e.to_string(), format!("{} (GD_EDOMAIN)", e.message()));
    }
    assert_eq!(y, [7.0f32; 8]);
    let mut short = [0u8; 0];
    let e = gdropout::dropout_fwd(&mut y, &x, 0.5, &S, Some(&mut short)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    let e = gdropout::dropout_fwd(&mut y[..4], &x, 0.5, &S, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    let e = gdropout::sum_cols(&mut y[..2], &x, usize::MAX, 2).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Overflow);
}

#[test]
fn version() {
    let (major, minor, patch) = gdropout::version();
    assert_eq!(major, 1);
    assert_eq!(gdropout::version_string(), format!("{}.{}.{}", major, minor, patch));
    assert!(["scalar", "avx2", "avx512"].contains(&gdropout::dispatch_name()));
}
