//! Fisher and Plan through the safe binding, against sums done here in f64.
use gdropout::{Axis, ErrorKind, Fisher, Plan, Reduce, Rule, TensorInfo};

/// Compiles only while `T` is not `Sync` (two impls become ambiguous).
trait AmbiguousIfSync<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

fn is_send<T: Send>() {}

#[test]
fn send_not_sync() {
    is_send::<Fisher>();
    is_send::<Plan>();
    <Fisher as AmbiguousIfSync<_>>::check();
    <Plan as AmbiguousIfSync<_>>::check();
}

fn close(a: f32, b: f64) -> bool {
    (f64::from(a) - b).abs() <= 1e-6 * b.abs().max(1e-30)
}

#[test]
fn fisher_accumulate_read_scores() {
    let mut f = Fisher::new().unwrap();
    let w = f.add_tensor("fc.weight", 6, Some(0)).unwrap();
    let b = f.add_tensor("fc.bias", 2, Some(0)).unwrap();
    let ln = f.add_tensor("ln.bias", 3, Some(1)).unwrap();
    assert_eq!((w, b, ln), (0, 1, 2));
    assert_eq!(f.count().unwrap(), 3);
    assert_eq!(f.find("ln.bias").unwrap(), 2);
    let info: TensorInfo = f.info(1).unwrap();
    assert_eq!((info.name.as_str(), info.numel, info.site), ("fc.bias", 2, Some(0)));
    assert_eq!(f.add_tensor("fc.bias", 1, None).unwrap_err().kind(), ErrorKind::Exists);
    assert_eq!(f.find("nope").unwrap_err().kind(), ErrorKind::NotFound);

    // dense layer: W[2 x 3], x[batch x 3], dy[batch x 2]
    let x = [1.0f32, 2.0, 3.0, -1.0, 0.5, 0.0];
    let dy = [0.5f32, -2.0, 1.0, 1.0];
    f.accumulate_dense(w, Some(b), &x, &dy, 2, 3, 2).unwrap();
    let (est, samples) = f.read_vec(w).unwrap();
    assert_eq!(samples, 2.0);
    for o in 0..2 {
        for i in 0..3 {
            let want = (0..2)
                .map(|n| (f64::from(dy[n * 2 + o]) * f64::from(x[n * 3 + i])).powi(2))
                .sum::<f64>()
                / 2.0;
            assert!(close(est[o * 3 + i], want), "{} vs {}", est[o * 3 + i], want);
        }
    }
    f.accumulate(ln, &[1.0, 2.0, 3.0], 1.0).unwrap();
    f.accumulate(ln, &[3.0, 2.0, 1.0], 3.0).unwrap();
    let (est_ln, w_ln) = f.read_vec(ln).unwrap();
    assert_eq!(w_ln, 4.0);
    assert!(close(est_ln[0], (1.0 + 27.0) / 4.0));
    assert_eq!(f.accumulate(ln, &[1.0], 1.0).unwrap_err().kind(), ErrorKind::Shape);

    let scores = f.site_scores_vec(Reduce::TensorMean).unwrap();
    let mean = |v: &[f32]| v.iter().map(|a| f64::from(*a)).sum::<f64>() / v.len() as f64;
    let (est_b, _) = f.read_vec(b).unwrap();
    assert!(close(scores[0], (mean(&est) + mean(&est_b)) / 2.0));
    assert!(close(scores[1], mean(&est_ln)));
    let rows = f.unit_scores(w, 2, 3, Axis::Rows).unwrap();
    assert!(close(rows[1], mean(&est[3..])));

    // sums -> set_sums on a twin -> merge doubles the sums
    let mut sums = vec![0.0f64; 3];
    let weight = f.sums(ln, &mut sums).unwrap();
    let mut twin = Fisher::new().unwrap();
    for id in 0..3 {
        let t = f.info(id).unwrap();
        twin.add_tensor(&t.name, t.numel, t.site).unwrap();
    }
    twin.set_sums(ln, &sums, weight).unwrap();
    f.merge(&twin).unwrap();
    let mut doubled = vec![0.0f64; 3];
    assert_eq!(f.sums(ln, &mut doubled).unwrap(), 2.0 * weight);
    assert_eq!(doubled, sums.iter().map(|s| 2.0 * s).collect::<Vec<_>>());

    // save / load is bit exact
    let dir = std::env::temp_dir().join(format!("gdropout-rs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.safetensors");
    f.save(&path).unwrap();
    let g = Fisher::load(&path).unwrap();
    for id in 0..3 {
        assert_eq!(g.info(id).unwrap(), f.info(id).unwrap());
        assert_eq!(g.read_vec(id).unwrap(), f.read_vec(id).unwrap());
    }
    assert_eq!(Fisher::load(dir.join("missing")).err().unwrap().kind(), ErrorKind::Io);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn some_none_is_no_site_nor_tensor() {
    // Some(usize::MAX) is GD_NONE to C, which reads it as "no site" or "no
    // bias": it once registered a tensor on no site without a word
    let mut f = Fisher::new().unwrap();
    let max = Some(usize::MAX);
    assert_eq!(f.add_tensor("w", 4, max).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(f.count().unwrap(), 0);
    let w = f.add_tensor("w", 4, Some(0)).unwrap();
    let (x, dy) = ([1.0f32, 2.0], [3.0f32, 4.0]);
    let err = f.accumulate_dense(w, max, &x, &dy, 1, 2, 2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = f.accumulate_dense_seq(w, max, &x, &dy, 1, 1, 2, 2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(f.read_vec(w).unwrap_err().kind(), ErrorKind::State); // nothing was added
    f.accumulate_dense(w, None, &x, &dy, 1, 2, 2).unwrap();
    assert_eq!(f.read_vec(w).unwrap(), (vec![9.0f32, 36.0, 16.0, 64.0], 1.0));
}

#[test]
fn fisher_from_adam_and_moves_between_threads() {
    let mut f = Fisher::new().unwrap();
    let id = f.add_tensor("v", 2, None).unwrap();
    let f = std::thread::spawn(move || {
        f.from_adam(id, &[0.5, 0.25], 0.5, 1, 4).unwrap();
        f
    })
    .join()
    .unwrap();
    // 4 * v / (1 - 0.5^1)
    assert_eq!(f.read_vec(id).unwrap(), (vec![4.0f32, 2.0], 1.0));
}

#[test]
fn plan_rank_linear_bert() {
    let n = 37;
    let mut plan = Plan::new(n).unwrap();
    let scores: Vec<f32> = (0..n).map(|i| ((i * 11) % n) as f32).collect(); // a permutation
    plan.set_scores(&scores).unwrap();
    assert_eq!(plan.get(0).unwrap_err().kind(), ErrorKind::State);
    plan.compute(Rule::RankLinear, 0.099, 0.0).unwrap();
    let probs = plan.probs().unwrap();
    for (site, score) in scores.iter().enumerate() {
        let rank = *score as f64; // scores are the ranks 0..36
        let want = (f64::from(0.099f32) - f64::from(0.099f32) * rank / 36.0) as f32;
        assert_eq!(probs[site], want, "site {}", site);
    }
    plan.set_site(3, Some("encoder.3"), scores[3]).unwrap();
    plan.compute(Rule::Uniform, 0.1, 0.0).unwrap();
    assert_eq!(plan.probs().unwrap(), vec![0.1f32; n]);
    let info = plan.site_info(3).unwrap();
    assert_eq!((info.name.as_str(), info.score, info.prob), ("encoder.3", scores[3], 0.1));
    let path = std::env::temp_dir().join(format!("gdropout-plan-{}.txt", std::process::id()));
    plan.save(&path).unwrap();
    let back = Plan::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.size().unwrap(), n);
    assert_eq!(back.probs().unwrap(), plan.probs().unwrap());
    assert_eq!(back.site_info(3).unwrap().name, "encoder.3");
    assert_eq!(Plan::new(0).err().unwrap().kind(), ErrorKind::Invalid);
    assert_eq!(plan.set_site(0, None, f32::NAN).unwrap_err().kind(), ErrorKind::Domain);
}
