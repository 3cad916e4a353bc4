//! The expression evaluator, following Cedar's semantics exactly: short-circuit `&&`, `||` and
//! `if`; `==` across types is `false`, never an error; checked 64-bit arithmetic; the errors Cedar
//! raises, where Cedar raises them.

use crate::entities::Entities;
use crate::ext::{DateTime, Decimal, Duration, IpAddr};
use crate::value::{ExtValue, Uid, Value};
use mandate_syntax::ast::{
    Access, AddOp, CmpOp, Expr, ExprKind, Literal, PatternElem, SlotId, Var,
};
use smol_str::SmolStr;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Why an expression could not be evaluated. Only the kind matters for decisions; the message is
/// for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// An operand had the wrong type.
    #[error("type error: {0}")]
    Type(String),
    /// An entity that does not exist was dereferenced.
    #[error("entity `{0}` does not exist")]
    EntityDoesNotExist(Uid),
    /// A record or entity lacks an attribute.
    #[error("{0} does not have the attribute `{1}`")]
    MissingAttribute(String, SmolStr),
    /// An entity lacks a tag.
    #[error("`{0}` does not have the tag `{1}`")]
    MissingTag(Uid, SmolStr),
    /// Integer overflow.
    #[error("integer overflow: {0}")]
    Overflow(String),
    /// An extension function failed.
    #[error("{0}")]
    Extension(String),
    /// A function or method called with the wrong number of arguments.
    #[error("wrong number of arguments: {0}")]
    Arity(String),
    /// A template slot without a value.
    #[error("slot `{0}` is not linked")]
    UnlinkedSlot(&'static str),
    /// A part of the policy that failed to parse (never on the authorization path).
    #[error("the policy contains a syntax error")]
    Syntax,
}

/// The request and data an expression is evaluated against.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    /// `principal`
    pub principal: &'a Value,
    /// `action`
    pub action: &'a Value,
    /// `resource`
    pub resource: &'a Value,
    /// `context`
    pub context: &'a Value,
    /// The entity store.
    pub entities: &'a Entities,
    /// `?principal` of a linked template.
    pub slot_principal: Option<&'a Value>,
    /// `?resource` of a linked template.
    pub slot_resource: Option<&'a Value>,
}

type R = Result<Value, EvalError>;

fn type_err(expected: &str, found: &Value) -> EvalError {
    EvalError::Type(format!(
        "expected {expected}, found {} `{}`",
        found.type_name(),
        short(found)
    ))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn as_bool(v: &Value) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(type_err("a boolean", other)),
    }
}

fn as_long(v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Long(n) => Ok(*n),
        other => Err(type_err("a long", other)),
    }
}

fn as_string(v: &Value) -> Result<&SmolStr, EvalError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(type_err("a string", other)),
    }
}

fn as_set(v: &Value) -> Result<&Arc<BTreeSet<Value>>, EvalError> {
    match v {
        Value::Set(s) => Ok(s),
        other => Err(type_err("a set", other)),
    }
}

fn as_entity(v: &Value) -> Result<&Arc<Uid>, EvalError> {
    match v {
        Value::Entity(u) => Ok(u),
        other => Err(type_err("an entity", other)),
    }
}

/// Evaluates an expression.
///
/// Stack-safe at the nesting limit on small thread stacks (256 KiB, debug builds included):
/// every `GUARD_EVERY` levels of nesting, starting at the root, evaluation goes through
/// [`crate::stack::guarded`], which continues on a heap segment when the stack runs low. Between
/// two checks at most `GUARD_EVERY` frames are pushed, well inside the guard's red zone; a
/// typical condition is shallower than that and pays for one check.
///
/// # Errors
/// Cedar's evaluation errors.
pub fn eval(e: &Expr, env: &Env<'_>) -> R {
    eval_at(e, env, 0)
}

/// Levels of nesting between two stack checks: a level takes about 10 KiB in a debug build
/// (`eval_node`'s frame and its callees'), so 4 levels stay well inside the guard's red zone.
const GUARD_EVERY: u32 = 4;

#[inline]
fn eval_at(e: &Expr, env: &Env<'_>, depth: u32) -> R {
    match &e.kind {
        ExprKind::Lit(Literal::Bool(b)) => Ok(Value::Bool(*b)),
        ExprKind::Lit(Literal::Long(n)) => Ok(Value::Long(*n)),
        _ if depth.is_multiple_of(GUARD_EVERY) => {
            crate::stack::guarded(|| eval_node(e, env, depth))
        }
        _ => eval_node(e, env, depth),
    }
}

fn eval_node(e: &Expr, env: &Env<'_>, depth: u32) -> R {
    match &e.kind {
        ExprKind::Lit(Literal::Bool(b)) => Ok(Value::Bool(*b)),
        ExprKind::Lit(Literal::Long(n)) => Ok(Value::Long(*n)),
        ExprKind::Lit(Literal::String(s)) => Ok(Value::String(s.clone())),
        ExprKind::Var(v) => Ok(match v {
            Var::Principal => env.principal.clone(),
            Var::Action => env.action.clone(),
            Var::Resource => env.resource.clone(),
            Var::Context => env.context.clone(),
        }),
        ExprKind::Slot(SlotId::Principal) => env
            .slot_principal
            .cloned()
            .ok_or(EvalError::UnlinkedSlot("?principal")),
        ExprKind::Slot(SlotId::Resource) => env
            .slot_resource
            .cloned()
            .ok_or(EvalError::UnlinkedSlot("?resource")),
        ExprKind::Entity(uid) => Ok(Value::entity(Uid::from_ast(uid))),
        ExprKind::If(c, t, f) => {
            if as_bool(&eval_at(c, env, depth + 1)?)? {
                eval_at(t, env, depth + 1)
            } else {
                eval_at(f, env, depth + 1)
            }
        }
        ExprKind::And(items) => {
            for item in items {
                if !as_bool(&eval_at(item, env, depth + 1)?)? {
                    return Ok(Value::Bool(false));
                }
            }
            Ok(Value::Bool(true))
        }
        ExprKind::Or(items) => {
            for item in items {
                if as_bool(&eval_at(item, env, depth + 1)?)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        ExprKind::Not(x) => Ok(Value::Bool(!as_bool(&eval_at(x, env, depth + 1)?)?)),
        ExprKind::Neg(x) => {
            let n = as_long(&eval_at(x, env, depth + 1)?)?;
            n.checked_neg()
                .map(Value::Long)
                .ok_or_else(|| EvalError::Overflow(format!("cannot negate {n}")))
        }
        ExprKind::Compare(op, a, b) => {
            let a = eval_at(a, env, depth + 1)?;
            let b = eval_at(b, env, depth + 1)?;
            compare(*op, &a, &b, env)
        }
        ExprKind::Add(first, rest) => {
            let mut acc = eval_at(first, env, depth + 1)?;
            for (op, x) in rest {
                let rhs = eval_at(x, env, depth + 1)?;
                let (l, r) = (as_long(&acc)?, as_long(&rhs)?);
                let res = match op {
                    AddOp::Add => l.checked_add(r),
                    AddOp::Sub => l.checked_sub(r),
                };
                acc = Value::Long(res.ok_or_else(|| {
                    EvalError::Overflow(format!(
                        "{l} {} {r}",
                        if *op == AddOp::Add { "+" } else { "-" }
                    ))
                })?);
            }
            Ok(acc)
        }
        ExprKind::Mul(items) => {
            let mut iter = items.iter();
            let mut acc = match iter.next() {
                Some(x) => eval_at(x, env, depth + 1)?,
                None => return Ok(Value::Long(1)),
            };
            for x in iter {
                let rhs = eval_at(x, env, depth + 1)?;
                let (l, r) = (as_long(&acc)?, as_long(&rhs)?);
                acc = Value::Long(
                    l.checked_mul(r)
                        .ok_or_else(|| EvalError::Overflow(format!("{l} * {r}")))?,
                );
            }
            Ok(acc)
        }
        ExprKind::Has(x, path) => has_path(eval_at(x, env, depth + 1)?, path, env),
        ExprKind::Like(x, pattern) => {
            let v = eval_at(x, env, depth + 1)?;
            Ok(Value::Bool(wildcard_match(as_string(&v)?, pattern)))
        }
        ExprKind::Is(x, ty, in_expr) => {
            let v = eval_at(x, env, depth + 1)?;
            let uid = as_entity(&v)?;
            if uid.ty != ty.full {
                // `is T in E` short-circuits like `&&`.
                return Ok(Value::Bool(false));
            }
            match in_expr {
                None => Ok(Value::Bool(true)),
                Some(rhs) => {
                    let r = eval_at(rhs, env, depth + 1)?;
                    eval_in(&v, &r, env)
                }
            }
        }
        ExprKind::Member(base, accesses) => {
            let mut acc = eval_at(base, env, depth + 1)?;
            for a in accesses {
                acc = match a {
                    Access::Attr(name, _) => get_attr(&acc, name, env)?,
                    Access::Method(name, args, _) => {
                        let mut vals = Vec::with_capacity(args.len());
                        for arg in args {
                            vals.push(eval_at(arg, env, depth + 1)?);
                        }
                        call_method(name, &acc, &vals, env)?
                    }
                };
            }
            Ok(acc)
        }
        ExprKind::Call(name, args) => {
            let mut vals = Vec::with_capacity(args.len());
            for arg in args {
                vals.push(eval_at(arg, env, depth + 1)?);
            }
            call_function(&name.full, &vals)
        }
        ExprKind::Set(items) => {
            let mut set = BTreeSet::new();
            for item in items {
                set.insert(eval_at(item, env, depth + 1)?);
            }
            Ok(Value::Set(Arc::new(set)))
        }
        ExprKind::Record(fields) => {
            let mut map = std::collections::BTreeMap::new();
            for (k, x) in fields {
                map.insert(k.clone(), eval_at(x, env, depth + 1)?);
            }
            Ok(Value::Record(Arc::new(map)))
        }
        ExprKind::Error => Err(EvalError::Syntax),
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value, env: &Env<'_>) -> R {
    use std::cmp::Ordering;
    let ord = |a: &Value, b: &Value| -> Result<Ordering, EvalError> {
        match (a, b) {
            (Value::Long(x), Value::Long(y)) => Ok(x.cmp(y)),
            (Value::Ext(ExtValue::DateTime(x)), Value::Ext(ExtValue::DateTime(y))) => Ok(x.cmp(y)),
            (Value::Ext(ExtValue::Duration(x)), Value::Ext(ExtValue::Duration(y))) => Ok(x.cmp(y)),
            (Value::Long(_), other) | (other, _) => {
                Err(type_err("a long, or two datetimes or durations", other))
            }
        }
    };
    Ok(Value::Bool(match op {
        CmpOp::Eq => a == b,
        CmpOp::NotEq => a != b,
        CmpOp::Lt => ord(a, b)? == Ordering::Less,
        CmpOp::Le => ord(a, b)? != Ordering::Greater,
        CmpOp::Gt => ord(a, b)? == Ordering::Greater,
        CmpOp::Ge => ord(a, b)? != Ordering::Less,
        CmpOp::In => return eval_in(a, b, env),
    }))
}

/// Whether entity `a` is `b` or a descendant of `b`.
pub fn entity_in(a: &Uid, b: &Uid, entities: &Entities) -> bool {
    a == b || entities.get(a).is_some_and(|e| e.ancestors.contains(b))
}

fn eval_in(a: &Value, b: &Value, env: &Env<'_>) -> R {
    let lhs = as_entity(a)?;
    match b {
        Value::Entity(rhs) => Ok(Value::Bool(entity_in(lhs, rhs, env.entities))),
        Value::Set(items) => {
            let mut uids = Vec::with_capacity(items.len());
            for item in items.iter() {
                uids.push(as_entity(item)?);
            }
            Ok(Value::Bool(
                uids.into_iter().any(|u| entity_in(lhs, u, env.entities)),
            ))
        }
        other => Err(type_err("an entity or a set of entities", other)),
    }
}

fn has_path(mut v: Value, path: &[SmolStr], env: &Env<'_>) -> R {
    let last = path.len().saturating_sub(1);
    for (i, attr) in path.iter().enumerate() {
        let present = has_attr(&v, attr, env)?;
        if !present {
            return Ok(Value::Bool(false));
        }
        if i < last {
            v = get_attr(&v, attr, env)?;
        }
    }
    Ok(Value::Bool(true))
}

fn has_attr(v: &Value, attr: &str, env: &Env<'_>) -> Result<bool, EvalError> {
    match v {
        Value::Record(fields) => Ok(fields.contains_key(attr)),
        Value::Entity(uid) => Ok(env
            .entities
            .get(uid)
            .is_some_and(|e| e.attrs.contains_key(attr))),
        other => Err(type_err("an entity or a record", other)),
    }
}

fn get_attr(v: &Value, attr: &SmolStr, env: &Env<'_>) -> R {
    match v {
        Value::Record(fields) => fields
            .get(attr)
            .cloned()
            .ok_or_else(|| EvalError::MissingAttribute("the record".into(), attr.clone())),
        Value::Entity(uid) => {
            let entity = env
                .entities
                .get(uid)
                .ok_or_else(|| EvalError::EntityDoesNotExist(uid.as_ref().clone()))?;
            entity
                .attrs
                .get(attr)
                .cloned()
                .ok_or_else(|| EvalError::MissingAttribute(format!("`{uid}`"), attr.clone()))
        }
        other => Err(type_err("an entity or a record", other)),
    }
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), EvalError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(EvalError::Arity(format!(
            "`{name}` takes {n}, found {}",
            args.len()
        )))
    }
}

fn first(args: &[Value]) -> Result<&Value, EvalError> {
    args.first()
        .ok_or_else(|| EvalError::Arity("missing argument".into()))
}

fn ext_err(e: impl std::fmt::Display) -> EvalError {
    EvalError::Extension(e.to_string())
}

fn call_function(name: &str, args: &[Value]) -> R {
    arity(name, args, 1)?;
    let s = as_string(first(args)?)?;
    let ext = match name {
        "decimal" => ExtValue::Decimal(Decimal::parse(s).map_err(ext_err)?),
        "ip" => ExtValue::IpAddr(IpAddr::parse(s).map_err(ext_err)?),
        "datetime" => ExtValue::DateTime(DateTime::parse(s).map_err(ext_err)?),
        "duration" => ExtValue::Duration(Duration::parse(s).map_err(ext_err)?),
        other => return Err(EvalError::Extension(format!("unknown function `{other}`"))),
    };
    Ok(Value::Ext(ext))
}

/// Calls an extension function by name with all its arguments (the receiver first for methods), as
/// Cedar's JSON `{"__extn": {"fn": "offset", "args": [...]}}` form does.
///
/// # Errors
/// Unknown function, wrong arguments, or the function's own errors.
pub fn call_extension(name: &str, args: &[Value]) -> R {
    match name {
        "decimal" | "ip" | "datetime" | "duration" => call_function(name, args),
        _ => match args.split_first() {
            Some((recv, rest)) => call_ext_method(name, recv, rest),
            None => Err(EvalError::Arity(format!("`{name}` needs a receiver"))),
        },
    }
}

fn as_decimal(v: &Value) -> Result<Decimal, EvalError> {
    match v {
        Value::Ext(ExtValue::Decimal(d)) => Ok(*d),
        other => Err(type_err("a decimal", other)),
    }
}
fn as_ip(v: &Value) -> Result<IpAddr, EvalError> {
    match v {
        Value::Ext(ExtValue::IpAddr(d)) => Ok(*d),
        other => Err(type_err("an ipaddr", other)),
    }
}
fn as_datetime(v: &Value) -> Result<DateTime, EvalError> {
    match v {
        Value::Ext(ExtValue::DateTime(d)) => Ok(*d),
        other => Err(type_err("a datetime", other)),
    }
}
fn as_duration(v: &Value) -> Result<Duration, EvalError> {
    match v {
        Value::Ext(ExtValue::Duration(d)) => Ok(*d),
        other => Err(type_err("a duration", other)),
    }
}

fn call_method(name: &str, recv: &Value, args: &[Value], env: &Env<'_>) -> R {
    let b = Value::Bool;
    match name {
        "contains" => {
            arity(name, args, 1)?;
            Ok(b(as_set(recv)?.contains(first(args)?)))
        }
        "containsAll" => {
            arity(name, args, 1)?;
            let (s, o) = (as_set(recv)?, as_set(first(args)?)?);
            Ok(b(o.iter().all(|x| s.contains(x))))
        }
        "containsAny" => {
            arity(name, args, 1)?;
            let (s, o) = (as_set(recv)?, as_set(first(args)?)?);
            Ok(b(o.iter().any(|x| s.contains(x))))
        }
        "isEmpty" => {
            arity(name, args, 0)?;
            Ok(b(as_set(recv)?.is_empty()))
        }
        "hasTag" => {
            arity(name, args, 1)?;
            let uid = as_entity(recv)?;
            let tag = as_string(first(args)?)?;
            Ok(b(env
                .entities
                .get(uid)
                .is_some_and(|e| e.tags.contains_key(tag))))
        }
        "getTag" => {
            arity(name, args, 1)?;
            let uid = as_entity(recv)?;
            let tag = as_string(first(args)?)?;
            let entity = env
                .entities
                .get(uid)
                .ok_or_else(|| EvalError::EntityDoesNotExist(uid.as_ref().clone()))?;
            entity
                .tags
                .get(tag)
                .cloned()
                .ok_or_else(|| EvalError::MissingTag(uid.as_ref().clone(), tag.clone()))
        }
        _ => call_ext_method(name, recv, args),
    }
}

fn call_ext_method(name: &str, recv: &Value, args: &[Value]) -> R {
    let b = Value::Bool;
    let n_args = match name {
        "isIpv4" | "isIpv6" | "isLoopback" | "isMulticast" | "toDate" | "toTime"
        | "toMilliseconds" | "toSeconds" | "toMinutes" | "toHours" | "toDays" => 0,
        _ => 1,
    };
    arity(name, args, n_args)?;
    match name {
        "lessThan" => Ok(b(as_decimal(recv)?.less_than(as_decimal(first(args)?)?))),
        "lessThanOrEqual" => Ok(b(
            as_decimal(recv)?.less_than_or_equal(as_decimal(first(args)?)?)
        )),
        "greaterThan" => Ok(b(as_decimal(recv)?.greater_than(as_decimal(first(args)?)?))),
        "greaterThanOrEqual" => Ok(b(
            as_decimal(recv)?.greater_than_or_equal(as_decimal(first(args)?)?)
        )),
        "isIpv4" => Ok(b(as_ip(recv)?.is_ipv4())),
        "isIpv6" => Ok(b(as_ip(recv)?.is_ipv6())),
        "isLoopback" => Ok(b(as_ip(recv)?.is_loopback())),
        "isMulticast" => Ok(b(as_ip(recv)?.is_multicast())),
        "isInRange" => Ok(b(as_ip(recv)?.is_in_range(&as_ip(first(args)?)?))),
        "offset" => {
            let d = as_datetime(recv)?
                .offset(as_duration(first(args)?)?)
                .map_err(ext_err)?;
            Ok(Value::Ext(ExtValue::DateTime(d)))
        }
        "durationSince" => {
            let d = as_datetime(recv)?
                .duration_since(as_datetime(first(args)?)?)
                .map_err(ext_err)?;
            Ok(Value::Ext(ExtValue::Duration(d)))
        }
        "toDate" => Ok(Value::Ext(ExtValue::DateTime(
            as_datetime(recv)?.to_date().map_err(ext_err)?,
        ))),
        "toTime" => Ok(Value::Ext(ExtValue::Duration(as_datetime(recv)?.to_time()))),
        "toMilliseconds" => Ok(Value::Long(as_duration(recv)?.to_milliseconds())),
        "toSeconds" => Ok(Value::Long(as_duration(recv)?.to_seconds())),
        "toMinutes" => Ok(Value::Long(as_duration(recv)?.to_minutes())),
        "toHours" => Ok(Value::Long(as_duration(recv)?.to_hours())),
        "toDays" => Ok(Value::Long(as_duration(recv)?.to_days())),
        other => Err(EvalError::Extension(format!("unknown method `{other}`"))),
    }
}

/// Cedar's `like`: `*` matches any sequence of characters (including none). Linear in the text
/// for each star position tried: the classic backtrack-to-last-star algorithm, O(text × pattern)
/// in the worst case and never exponential.
pub fn wildcard_match(text: &str, pattern: &[PatternElem]) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(PatternElem::Wildcard) => {
                star = Some((p, t));
                p += 1;
            }
            Some(PatternElem::Char(c)) if text.get(t) == Some(c) => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern.iter().skip(p).all(|x| *x == PatternElem::Wildcard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Vec<PatternElem> {
        s.chars()
            .map(|c| {
                if c == '*' {
                    PatternElem::Wildcard
                } else {
                    PatternElem::Char(c)
                }
            })
            .collect()
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("abc", &pat("a*c")));
        assert!(wildcard_match("", &pat("*")));
        assert!(wildcard_match("abcbc", &pat("*bc")));
        assert!(!wildcard_match("abcbd", &pat("*bc")));
        assert!(wildcard_match("aaaa", &pat("a*a*a")));
        assert!(!wildcard_match("ab", &pat("abc")));
        let long = "a".repeat(10_000);
        assert!(!wildcard_match(&long, &pat("*a*a*a*a*a*a*a*b")));
    }
}
