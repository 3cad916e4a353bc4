//! Decision metrics through the `metrics` facade, emitted when the engine is built with
//! `EngineBuilder::metrics(true)`; the host installs the exporter (Prometheus, OpenTelemetry).
//! The audit writer's own metrics (queue depth, syncs) come from `mandate-audit`. Names and labels
//! are listed in `docs/audit.md`.

use crate::engine::{Decision, Request};

/// Counts one decision by agent, outcome and deciding layer, and records the utilisation of
/// each quota it met.
pub(crate) fn record_decision(request: &Request, decision: &Decision) {
    metrics::counter!(
        "mandate_decisions_total",
        "agent" => request.principal.to_string(),
        "decision" => decision.decision_str(),
        "layer" => decision.layer.as_str(),
    )
    .increment(1);
    for outcome in &decision.quota {
        if outcome.limit == 0 {
            continue;
        }
        // Usage before the charge plus its cost, refused charges included (as `audit stats`).
        let utilisation = outcome.used.saturating_add(outcome.cost) as f64 / outcome.limit as f64;
        metrics::histogram!("mandate_quota_utilisation", "quota" => outcome.quota.to_string())
            .record(utilisation);
        if !outcome.admitted {
            metrics::counter!("mandate_quota_refusals_total", "quota" => outcome.quota.to_string())
                .increment(1);
        }
    }
}
