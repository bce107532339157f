//! The 1.2 kernels through the safe binding: docs/SPEC.md's known answers,
//! the 16-bit rule against its definition (on the library's Philox block,
//! which tests/kernels.rs holds to Random123), every half kernel equal to
//! the f32 kernel's output rounded, the conversions' edge values, and shape
//! errors.
use gdropout::{
    dropout_add_bwd_ex, dropout_add_fwd_ex, dropout_bwd_cols_ex, dropout_bwd_ex,
    dropout_fwd_cols_ex, dropout_fwd_ex, gaussian_dropout_bwd_ex, gaussian_dropout_fwd_ex,
    mask_bernoulli_ex, mask_bytes, philox4x32_10, Bf16, ErrorKind, MaskRule, MaskSource, Stream,
    F16,
};

const SPEC: Stream = Stream { seed: 1234, stream: (7 << 16) | 1, offset: 0 };

fn word(s: &Stream, i: u64) -> u32 {
    let b = i / 4;
    let ctr = [b as u32, (b >> 32) as u32, s.stream as u32, (s.stream >> 32) as u32];
    philox4x32_10(ctr, [s.seed as u32, (s.seed >> 32) as u32])[(i % 4) as usize]
}

fn kept16(s: &Stream, i: u64, p: f32) -> bool {
    let w = word(s, i / 2);
    let d = if i % 2 == 1 { w >> 16 } else { w & 0xFFFF };
    d as u64 >= (p as f64 * 65536.0 + 0.5).floor() as u64
}

fn bit(m: &[u8], j: usize) -> bool {
    m[j / 8] >> (j % 8) & 1 == 1
}

/// Half bit patterns of every class, from a splitmix64 sequence.
fn halves(n: usize, seed: u64) -> Vec<u16> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u16
        })
        .collect()
}

#[test]
fn spec_known_answers() {
    let mut m = [0u8; 3];
    mask_bernoulli_ex(MaskRule::Bits16, &mut m, 20, 0.5, &SPEC).unwrap();
    assert_eq!(m, [0xc4, 0xf3, 0x03]);
    mask_bernoulli_ex(MaskRule::Bits32, &mut m, 20, 0.5, &SPEC).unwrap();
    assert_eq!(m, [0xd8, 0x41, 0x0a]);
    let x: Vec<F16> = [0x3c00, 0xc100, 0x4200, 0x2e66, 0x4700, 0xb800, 0x7bff, 0x0002]
        .iter()
        .map(|&h| F16(h))
        .collect();
    let mut y = vec![F16(0); 8];
    dropout_fwd_ex(MaskRule::Bits16, &mut y, &x, 0.5, &SPEC, None).unwrap();
    let want: Vec<F16> = [0, 0, 0x4600, 0, 0, 0, 0x7c00, 0x0004].iter().map(|&h| F16(h)).collect();
    assert_eq!(y, want);
}

#[test]
fn rule16_definition() {
    for &(n, offset, p) in &[(20usize, 0u64, 0.5f32), (1001, 3, 0.1), (77, u64::MAX - 76, 0.9)] {
        let s = SPEC.at(offset);
        let mut m = vec![0u8; mask_bytes(n)];
        mask_bernoulli_ex(MaskRule::Bits16, &mut m, n, p, &s).unwrap();
        for j in 0..n {
            assert_eq!(bit(&m, j), kept16(&s, offset + j as u64, p), "n {} bit {}", n, j);
        }
    }
}

#[test]
fn half_equals_f32_rounded() {
    let (rows, cols) = (37usize, 29usize);
    let n = rows * cols;
    let s = Stream::new(99, 5).at(u64::MAX - n as u64 + 1);
    let p_cols: Vec<f32> = (0..cols).map(|c| (c % 10) as f32 / 10.0).collect();
    for rule in [MaskRule::Bits32, MaskRule::Bits16] {
        let xb: Vec<Bf16> = halves(n, 1).into_iter().map(Bf16).collect();
        let xh: Vec<F16> = halves(n, 2).into_iter().map(F16).collect();
        let fb: Vec<f32> = xb.iter().map(|v| v.to_f32()).collect();
        let fh: Vec<f32> = xh.iter().map(|v| v.to_f32()).collect();
        let (mut yf, mut mf) = (vec![0f32; n], vec![0u8; mask_bytes(n)]);
        let (mut yb, mut m) = (vec![Bf16(0); n], vec![0u8; mask_bytes(n)]);
        dropout_fwd_ex(rule, &mut yf, &fb, 0.3, &s, Some(&mut mf)).unwrap();
        dropout_fwd_ex(rule, &mut yb, &xb, 0.3, &s, Some(&mut m)).unwrap();
        assert!(yb.iter().zip(&yf).all(|(h, f)| *h == Bf16::from_f32(*f)));
        assert_eq!(m, mf);
        let mut db = vec![Bf16(0); n];
        dropout_bwd_ex(rule, &mut db, &xb, 0.3, MaskSource::Mask(&m)).unwrap();
        assert_eq!(db, yb);
        dropout_bwd_ex(rule, &mut db, &xb, 0.3, MaskSource::Regenerate(&s)).unwrap();
        assert_eq!(db, yb);

        let mut yh = vec![F16(0); n];
        dropout_fwd_cols_ex(rule, &mut yf, &fh, rows, cols, &p_cols, &s, Some(&mut mf)).unwrap();
        dropout_fwd_cols_ex(rule, &mut yh, &xh, rows, cols, &p_cols, &s, Some(&mut m)).unwrap();
        assert!(yh.iter().zip(&yf).all(|(h, f)| *h == F16::from_f32(*f)));
        assert_eq!(m, mf);
        let mut dh = vec![F16(0); n];
        dropout_bwd_cols_ex(rule, &mut dh, &xh, rows, cols, &p_cols, MaskSource::Mask(&m)).unwrap();
        assert_eq!(dh, yh);

        let bias: Vec<F16> = halves(cols, 3).into_iter().map(|h| F16(h & 0x3fff)).collect();
        let res: Vec<F16> = halves(n, 4).into_iter().map(|h| F16(h & 0xbfff)).collect();
        let bf: Vec<f32> = bias.iter().map(|v| v.to_f32()).collect();
        let rf: Vec<f32> = res.iter().map(|v| v.to_f32()).collect();
        dropout_add_fwd_ex(rule, &mut yf, &fh, Some(&bf), Some(&rf), rows, cols, 0.2, &s, None)
            .unwrap();
        dropout_add_fwd_ex(rule, &mut yh, &xh, Some(&bias), Some(&res), rows, cols, 0.2, &s, None)
            .unwrap();
        assert!(yh.iter().zip(&yf).all(|(h, f)| *h == F16::from_f32(*f)));
        let mut dbias = vec![0f32; cols];
        dropout_add_bwd_ex(
            rule,
            &mut dh,
            Some(&mut dbias),
            &xh,
            rows,
            cols,
            0.2,
            MaskSource::Regenerate(&s),
        )
        .unwrap();
        for c in 0..cols {
            // from +0.0, as C does (Rust's f64 sum starts at -0.0)
            let sum = (0..rows).fold(0.0f64, |a, r| a + dh[r * cols + c].to_f32() as f64);
            let want = sum as f32;
            assert!(dbias[c].to_bits() == want.to_bits() || (dbias[c].is_nan() && want.is_nan()));
        }
    }
    let xb: Vec<Bf16> = halves(n, 5).into_iter().map(Bf16).collect();
    let fb: Vec<f32> = xb.iter().map(|v| v.to_f32()).collect();
    let (mut yf, mut yb, mut db) = (vec![0f32; n], vec![Bf16(0); n], vec![Bf16(0); n]);
    gaussian_dropout_fwd_ex(&mut yf, &fb, 0.4, &s).unwrap();
    gaussian_dropout_fwd_ex(&mut yb, &xb, 0.4, &s).unwrap();
    assert!(yb.iter().zip(&yf).all(|(h, f)| *h == Bf16::from_f32(*f)));
    gaussian_dropout_bwd_ex(&mut db, &xb, 0.4, &s).unwrap();
    assert_eq!(db, yb);
}

#[test]
fn conversion_edges() {
    assert_eq!(F16::from_f32(65504.0), F16(0x7bff));
    assert_eq!(F16::from_f32(65520.0), F16(0x7c00));
    assert_eq!(F16::from_f32(f32::from_bits(0x3300_0000)), F16(0)); // 2^-25: tie to 0
    assert_eq!(F16::from_f32(f32::from_bits(0x3300_0001)), F16(1));
    assert_eq!(F16::from_f32(1.0 + 3.0 / 2048.0), F16(0x3c02));
    assert_eq!(Bf16::from_f32(f32::from_bits(0x007f_ffff)), Bf16(0x0080)); // not flushed
    assert_eq!(Bf16::from_f32(f32::from_bits(0x7f80_0001)), Bf16(0x7fc0));
    for h in 0..=0xffffu16 {
        let f = F16(h).to_f32();
        if !f.is_nan() {
            assert_eq!(F16::from_f32(f), F16(h));
            assert_eq!(Bf16::from_f32(Bf16(h).to_f32()), Bf16(h));
        }
    }
}

#[test]
fn shapes_and_codes() {
    let x = vec![Bf16(0x3f80); 10];
    let mut y = vec![Bf16(0); 9];
    let s = Stream::new(1, 2);
    let e = dropout_fwd_ex(MaskRule::Bits16, &mut y, &x, 0.5, &s, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    let mut y = vec![Bf16(0); 10];
    let e = dropout_fwd_ex(MaskRule::Bits16, &mut y, &x, f32::NAN, &s, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Domain);
    assert!(y.iter().all(|v| *v == Bf16(0)));
    let mut m = vec![0u8; 1];
    let e = dropout_fwd_ex(MaskRule::Bits32, &mut y, &x, 0.5, &s, Some(&mut m)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
}
