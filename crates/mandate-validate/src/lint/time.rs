//! Time-limited grants whose end has passed, and the small calendar arithmetic they need.

use mandate_syntax::Span;
use mandate_syntax::ast::{
    Access, CmpOp, ConditionKind, Effect, Expr, ExprKind, Literal, StatementKind, Var,
};

use super::{Ctx, declare_lint};

declare_lint! {
    /// ## What it flags
    ///
    /// A `permit` with an end date that has passed: a guard that must hold for the permit to
    /// apply and that compares the request time `context.now` with a `datetime` literal in the
    /// past. The guards recognised are the operands of a `when` clause's top-level `&&`
    /// (`context.now < datetime("2025-07-01")`, `<=`, the reversed forms `datetime(…) >
    /// context.now` and `>=`, and the methods `context.now.lessThan(datetime(…))`,
    /// `lessThanOrEqual`, `datetime(…).greaterThan(context.now)`, `greaterThanOrEqual`), and the
    /// negated forms among the top-level `||` operands of an `unless` clause (`unless {
    /// context.now >= datetime("2025-07-01") }`).
    ///
    /// "Now" is the time the lint runs (`mandate lint --now` sets it). The request attribute is
    /// `context.now`, the convention of Mandate's schemas and of `mandate test`.
    ///
    /// ## Why it matters
    ///
    /// Temporary access (an incident, a migration, a contractor) is written with an end date so
    /// that it lapses by itself. Once the date has passed the permit is dead: it clutters the
    /// set, misleads reviewers about who has access, and editing the date by mistake revives a
    /// grant everybody believes gone.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// @id("migration-agent-writes-until-july")
    /// permit (
    ///   principal == Platform::Agent::"migration-bot",
    ///   action == Platform::Action::"WriteDocument",
    ///   resource
    /// )
    /// when { context.now < datetime("2025-07-01T00:00:00Z") };
    /// ```
    ///
    /// ## Use instead
    ///
    /// Remove the expired permit (version control keeps it), or, if the access is still needed,
    /// extend it on purpose with a new end date and a new review.
    pub const EXPIRED_GRANT = {
        code: "MDL009",
        name: "expired-grant",
        severity: Warning,
        needs_schema: false,
        summary: "a time-limited permit whose end date has passed",
    };
}

pub(crate) fn check(ctx: &mut Ctx<'_>) {
    let Some(now) = ctx.options.now_millis else {
        return;
    };
    let mut found = Vec::new();
    for (file, s) in ctx.statements() {
        if !matches!(s.kind, StatementKind::Policy(Effect::Permit)) {
            continue;
        }
        for c in &s.conditions {
            let terms: Vec<&Expr> = match c.kind {
                ConditionKind::When => flatten(&c.body, true),
                ConditionKind::Unless => flatten(&c.body, false),
            };
            for term in terms {
                if let Some((end, inclusive, span)) = deadline(term, c.kind == ConditionKind::When)
                {
                    let expired = if inclusive { end < now } else { end <= now };
                    if expired {
                        found.push((file, span, end));
                    }
                }
            }
        }
    }
    for (file, span, end) in found {
        let d = EXPIRED_GRANT
            .diagnostic(format!(
                "this permit expired at `{}`",
                format_datetime(end)
            ))
            .with_label(span, "false for every request from then on")
            .with_note(format!("checked as of `{}`", format_datetime(now)))
            .with_help("remove the expired permit, or extend its end date on purpose if the access is still needed");
        ctx.emit(file, d);
    }
}

/// The operands of a top-level `&&` (`and == true`) or `||` chain.
fn flatten(e: &Expr, and: bool) -> Vec<&Expr> {
    match (&e.kind, and) {
        (ExprKind::And(items), true) | (ExprKind::Or(items), false) => {
            items.iter().flat_map(|i| flatten(i, and)).collect()
        }
        _ => vec![e],
    }
}

/// If `term` bounds the request time from above (in a `when`: `now < d`; in an `unless`:
/// `now >= d`), the bound, whether it is inclusive, and the term's span.
fn deadline(term: &Expr, when: bool) -> Option<(i64, bool, Span)> {
    let (op, now_side_left, other) = comparison(term)?;
    // Normalise to `now OP d`.
    let op = if now_side_left { op } else { flip(op) };
    let d = datetime_literal(other)?;
    // In `when`, the permit applies while `now < d` (or `<=`); in `unless`, while the
    // condition is false, so `now >= d` means `now < d`.
    let (strict_upper, inclusive_upper) = if when {
        (CmpOp::Lt, CmpOp::Le)
    } else {
        (CmpOp::Ge, CmpOp::Gt)
    };
    if op == strict_upper {
        Some((d, false, term.span))
    } else if op == inclusive_upper {
        Some((d, true, term.span))
    } else {
        None
    }
}

/// A comparison between `context.now` and something else: the operator, whether `now` is on
/// the left, and the other operand.
fn comparison(term: &Expr) -> Option<(CmpOp, bool, &Expr)> {
    match &term.kind {
        ExprKind::Compare(op, a, b) => {
            if is_now(a) {
                Some((*op, true, b))
            } else if is_now(b) {
                Some((*op, false, a))
            } else {
                None
            }
        }
        ExprKind::Member(base, accesses) => {
            let (last, prefix) = accesses.split_last()?;
            let Access::Method(name, args, _) = last else {
                return None;
            };
            let [arg] = args.as_slice() else {
                return None;
            };
            // Member chains are n-ary: `context.now.lessThan(d)` is `context` with the accesses
            // `.now` and `.lessThan(d)`.
            let receiver_is_now = matches!(prefix, [Access::Attr(a, _)] if a == "now")
                && matches!(base.kind, ExprKind::Var(Var::Context));
            let op = match name.as_str() {
                "lessThan" => CmpOp::Lt,
                "lessThanOrEqual" => CmpOp::Le,
                "greaterThan" => CmpOp::Gt,
                "greaterThanOrEqual" => CmpOp::Ge,
                _ => return None,
            };
            if receiver_is_now {
                Some((op, true, arg))
            } else if is_now(arg) && prefix.is_empty() {
                Some((op, false, base))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `context.now` written as a one-step member access.
fn is_now(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Member(base, accesses) => {
            matches!(base.kind, ExprKind::Var(Var::Context))
                && matches!(accesses.as_slice(), [Access::Attr(a, _)] if a == "now")
        }
        _ => false,
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// `datetime("…")` with a literal that parses.
fn datetime_literal(e: &Expr) -> Option<i64> {
    let ExprKind::Call(name, args) = &e.kind else {
        return None;
    };
    if name.full != "datetime" {
        return None;
    }
    let [arg] = args.as_slice() else {
        return None;
    };
    let ExprKind::Lit(Literal::String(s)) = &arg.kind else {
        return None;
    };
    parse_datetime(s)
}

/// Parses a datetime in one of Cedar's formats (`2025-07-01`, `2025-07-01T12:00:00Z`,
/// `2025-07-01T12:00:00.250Z`, `2025-07-01T12:00:00+0200`, `2025-07-01T12:00:00.250-0130`)
/// into milliseconds since the Unix epoch.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    if b.len() < 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let date_ms = days_from_civil(year, month, day).checked_mul(86_400_000)?;
    if b.len() == 10 {
        return Some(date_ms);
    }
    if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0;
    if b.get(pos) == Some(&b'.') {
        millis = num(pos + 1, 3)?;
        pos += 4;
    }
    let offset_ms = match b.get(pos) {
        Some(b'Z') if b.len() == pos + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == pos + 5 => {
            let (oh, om) = (num(pos + 1, 2)?, num(pos + 3, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let ms = (oh * 60 + om) * 60_000;
            if *sign == b'+' { ms } else { -ms }
        }
        _ => return None,
    };
    Some(date_ms + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset_ms)
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDThh:mm:ssZ` (with `.SSS` when the
/// milliseconds are not zero).
pub fn format_datetime(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, frac) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{frac:03}Z")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_datetime("1970-01-01T01:00:00+0100"), Some(0));
        assert_eq!(parse_datetime("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_datetime("2024-02-30"), None);
        assert_eq!(parse_datetime("2024-02-29T24:00:00Z"), None);
        assert_eq!(parse_datetime("2024-02-29T10:00:00"), None);
        let ms = parse_datetime("2026-11-26T10:20:30.040Z");
        assert_eq!(
            ms.map(format_datetime).as_deref(),
            Some("2026-11-26T10:20:30.040Z")
        );
        assert_eq!(format_datetime(-1), "1969-12-31T23:59:59.999Z");
    }
}
