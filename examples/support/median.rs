//! The median of some `f64` samples (the upper one of an even count): shared by
//! `examples/handoff_probe.rs` and `benches/bulk.rs`.

/// The middle sample once sorted; `samples` must not be empty.
pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
