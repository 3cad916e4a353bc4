//! Typed mode: a fixed schema, entity data and requests generated to match it (mostly; one case
//! in ten may break it), and the same random policies as the untyped mode. Both engines read the
//! entities and contexts with the schema (so implicit entity and extension forms are allowed) and
//! validate requests against the actions' `appliesTo`.

use super::generate::{
    Case, Choice, Exprs, datetime_lit, decimal_lit, duration_lit, entity_id, ip_lit, policy_set,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value as J, json};

/// The schema, in Cedar's schema syntax. Attribute names follow the untyped generator's
/// conventions (`n` a long, `s` a string, …), so that its policies make sense here.
pub const SCHEMA: &str = r#"
entity Group in [Group] { n?: Long, s?: String };
entity User in [Group] {
  n: Long,
  s?: String,
  b?: Bool,
  e?: Doc,
  set?: Set<Long>,
  r?: { n: Long, s?: String },
  d?: decimal,
  ip?: ipaddr,
  t?: datetime,
  dur?: duration,
} tags String;
entity Doc in [Group, NS::Folder] {
  n?: Long,
  e?: User,
  set?: Set<User>,
  r?: { e?: User, t?: datetime },
};
entity Color enum ["red", "blue"];
namespace NS {
  entity Folder in [Folder] { n?: Long, s?: String };
  action read appliesTo { principal: [User], resource: [Folder] };
}
action all;
action view, edit in [all] appliesTo {
  principal: [User, Group],
  resource: [Doc, Group, NS::Folder, Color],
  context: { n?: Long, s?: String, ip?: ipaddr, t?: datetime, e?: User, r?: { b: Bool } },
};
"#;

/// A schema type, as far as the generator needs it.
#[derive(Clone, Debug)]
enum STy {
    Bool,
    Long,
    Str,
    Ent(&'static str),
    Set(Box<STy>),
    Rec(Vec<(&'static str, bool, STy)>),
    Ext(&'static str),
}

/// The declared attributes of each entity type: (name, required, type).
fn attrs_of(ty: &str) -> Vec<(&'static str, bool, STy)> {
    match ty {
        "Group" => vec![("n", false, STy::Long), ("s", false, STy::Str)],
        "User" => vec![
            ("n", true, STy::Long),
            ("s", false, STy::Str),
            ("b", false, STy::Bool),
            ("e", false, STy::Ent("Doc")),
            ("set", false, STy::Set(Box::new(STy::Long))),
            (
                "r",
                false,
                STy::Rec(vec![("n", true, STy::Long), ("s", false, STy::Str)]),
            ),
            ("d", false, STy::Ext("decimal")),
            ("ip", false, STy::Ext("ipaddr")),
            ("t", false, STy::Ext("datetime")),
            ("dur", false, STy::Ext("duration")),
        ],
        "Doc" => vec![
            ("n", false, STy::Long),
            ("e", false, STy::Ent("User")),
            ("set", false, STy::Set(Box::new(STy::Ent("User")))),
            (
                "r",
                false,
                STy::Rec(vec![
                    ("e", false, STy::Ent("User")),
                    ("t", false, STy::Ext("datetime")),
                ]),
            ),
        ],
        "NS::Folder" => vec![("n", false, STy::Long), ("s", false, STy::Str)],
        _ => vec![],
    }
}

/// The types each entity type may have as parents.
fn parent_types(ty: &str) -> &'static [&'static str] {
    match ty {
        "Group" | "User" => &["Group"],
        "Doc" => &["Group", "NS::Folder"],
        "NS::Folder" => &["NS::Folder"],
        _ => &[],
    }
}

fn context_type() -> STy {
    STy::Rec(vec![
        ("n", false, STy::Long),
        ("s", false, STy::Str),
        ("ip", false, STy::Ext("ipaddr")),
        ("t", false, STy::Ext("datetime")),
        ("e", false, STy::Ent("User")),
        ("r", false, STy::Rec(vec![("b", true, STy::Bool)])),
    ])
}

const ENTITY_TYPES: &[&str] = &["User", "Group", "Doc", "NS::Folder", "Color"];

fn choose<T: std::fmt::Debug + 'static>(arms: Vec<(u32, BoxedStrategy<T>)>) -> BoxedStrategy<T> {
    Choice::new(arms).boxed()
}

fn id_for(ty: &'static str, sloppy: bool) -> BoxedStrategy<String> {
    if ty == "Color" {
        let ok = prop::sample::select(vec!["red".to_string(), "blue".to_string()]).boxed();
        if sloppy {
            choose(vec![(6, ok), (1, Just("green".to_string()).boxed())])
        } else {
            ok
        }
    } else {
        entity_id()
    }
}

/// A JSON value of schema type `t`, in any of the forms Cedar accepts with a schema (implicit or
/// explicit entity and extension escapes). When `sloppy`, sometimes a value of the wrong type.
fn value(t: &STy, sloppy: bool, depth: u32) -> BoxedStrategy<J> {
    let good: BoxedStrategy<J> = match t {
        STy::Bool => any::<bool>().prop_map(J::Bool).boxed(),
        STy::Long => choose(vec![
            (8, (-3i64..=5).prop_map(|n| json!(n)).boxed()),
            (
                1,
                prop::sample::select(vec![i64::MAX, i64::MIN])
                    .prop_map(|n| json!(n))
                    .boxed(),
            ),
        ]),
        STy::Str => prop::sample::select(vec!["a", "ab", "", "a*b", "ü"])
            .prop_map(|s| json!(s))
            .boxed(),
        STy::Ent(ty) => {
            let ty: &'static str = ty;
            (id_for(ty, false), 0u8..3)
                .prop_map(move |(id, form)| match form {
                    0 => json!({"__entity": {"type": ty, "id": id}}),
                    _ => json!({"type": ty, "id": id}),
                })
                .boxed()
        }
        STy::Set(elem) => prop::collection::vec(value(elem, sloppy, depth + 1), 0..3)
            .prop_map(J::Array)
            .boxed(),
        STy::Rec(fields) => record(fields.clone(), sloppy, depth + 1),
        STy::Ext(name) => {
            let (fn_name, lit) = match *name {
                "decimal" => ("decimal", decimal_lit(!sloppy)),
                "ipaddr" => ("ip", ip_lit(!sloppy)),
                "datetime" => ("datetime", datetime_lit(!sloppy)),
                _ => ("duration", duration_lit(!sloppy)),
            };
            (lit, any::<bool>())
                .prop_map(move |(arg, explicit)| {
                    if explicit {
                        json!({"__extn": {"fn": fn_name, "arg": arg}})
                    } else {
                        json!(arg)
                    }
                })
                .boxed()
        }
    };
    if sloppy && depth < 3 {
        let wrong = prop::sample::select(vec![
            json!(1),
            json!("x"),
            json!(true),
            json!([1]),
            json!({"n": 1}),
            json!({"type": "Group", "id": "a"}),
            json!({"__extn": {"fn": "decimal", "arg": "1.0"}}),
        ])
        .boxed();
        choose(vec![(25, good), (1, wrong)])
    } else {
        good
    }
}

/// A record with the declared fields: required ones present, optional ones at random; when
/// `sloppy`, sometimes a required field missing or an undeclared one added.
fn record(fields: Vec<(&'static str, bool, STy)>, sloppy: bool, depth: u32) -> BoxedStrategy<J> {
    let parts: Vec<BoxedStrategy<Option<(String, J)>>> = fields
        .iter()
        .map(|(name, required, t)| {
            let name = (*name).to_string();
            let v = value(t, sloppy, depth);
            let field = match (required, sloppy) {
                (true, false) => v.prop_map(Some).boxed(),
                (true, true) => prop::option::weighted(0.97, v).boxed(),
                (false, _) => prop::option::weighted(0.5, v).boxed(),
            };
            field
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
                .boxed()
        })
        .collect();
    let extra: BoxedStrategy<Option<(String, J)>> = if sloppy {
        prop::option::weighted(0.05, Just(("undeclared".to_string(), json!(1)))).boxed()
    } else {
        Just(None).boxed()
    };
    (parts, extra)
        .prop_map(|(parts, extra)| {
            J::Object(
                parts
                    .into_iter()
                    .chain(std::iter::once(extra))
                    .flatten()
                    .collect(),
            )
        })
        .boxed()
}

#[derive(Clone, Debug)]
struct TEntity {
    ty: &'static str,
    id: String,
    attrs: J,
    tags: Option<J>,
    parents: Vec<Index>,
    bad_parent: Option<&'static str>,
}

fn entity(sloppy: bool) -> BoxedStrategy<TEntity> {
    let per_type: Vec<(u32, BoxedStrategy<TEntity>)> = ENTITY_TYPES
        .iter()
        .map(|&ty| {
            let tags: BoxedStrategy<Option<J>> = match (ty, sloppy) {
                ("User", _) => prop::option::weighted(
                    0.5,
                    prop::collection::btree_map(
                        prop::sample::select(vec!["n", "s", "a"]).prop_map(String::from),
                        value(&STy::Str, sloppy, 1),
                        0..3,
                    )
                    .prop_map(|m| J::Object(m.into_iter().collect())),
                )
                .boxed(),
                (_, true) => prop::option::weighted(0.03, Just(json!({"t": "x"}))).boxed(),
                _ => Just(None).boxed(),
            };
            let bad_parent: BoxedStrategy<Option<&'static str>> = if sloppy {
                prop::option::weighted(0.03, prop::sample::select(ENTITY_TYPES.to_vec())).boxed()
            } else {
                Just(None).boxed()
            };
            let weight = if ty == "Color" { 1 } else { 4 };
            let strategy = (
                id_for(ty, sloppy),
                record(attrs_of(ty), sloppy, 1),
                tags,
                prop::collection::vec(any::<Index>(), 0..3),
                bad_parent,
            )
                .prop_map(move |(id, attrs, tags, parents, bad_parent)| TEntity {
                    ty,
                    id,
                    attrs,
                    tags,
                    parents,
                    bad_parent,
                })
                .boxed();
            (weight, strategy)
        })
        .collect();
    choose(per_type)
}

#[derive(Clone, Debug)]
struct TRequest {
    principal: (Index, &'static str, String),
    action: (&'static str, &'static str),
    resource: (Index, &'static str, String),
    context: J,
}

fn request(sloppy: bool) -> BoxedStrategy<TRequest> {
    type Ent = (Index, &'static str, String);
    let ent = |types: Vec<&'static str>| -> BoxedStrategy<Ent> {
        prop::sample::select(types)
            .prop_flat_map(|t| (any::<Index>(), Just(t), id_for(t, false)))
            .boxed()
    };
    let context = || value(&context_type(), sloppy, 1);
    // Mostly requests the schema allows; sometimes any types (which the schema may refuse), and
    // `all`, which applies to nothing.
    let shaped = choose(vec![
        (
            12,
            (
                ent(vec!["User", "User", "Group"]),
                prop::sample::select(vec![("Action", "view"), ("Action", "edit")]),
                ent(vec!["Doc", "Doc", "Group", "NS::Folder", "Color"]),
                context(),
            )
                .boxed(),
        ),
        (
            3,
            (
                ent(vec!["User"]),
                Just(("NS::Action", "read")),
                ent(vec!["NS::Folder"]),
                Just(json!({})),
            )
                .boxed(),
        ),
        (
            1,
            (
                ent(ENTITY_TYPES.to_vec()),
                prop::sample::select(vec![
                    ("Action", "view"),
                    ("NS::Action", "read"),
                    ("Action", "all"),
                ]),
                ent(ENTITY_TYPES.to_vec()),
                context(),
            )
                .boxed(),
        ),
    ]);
    shaped
        .prop_map(|(principal, action, resource, context)| TRequest {
            principal,
            action,
            resource,
            context,
        })
        .boxed()
}

fn render(
    entities: Vec<TEntity>,
    requests: Vec<TRequest>,
    links: (Index, Index),
    policies: String,
) -> Case {
    let mut seen = std::collections::HashSet::new();
    let entities: Vec<TEntity> = entities
        .into_iter()
        .filter(|e| seen.insert((e.ty, e.id.clone())))
        .collect();
    let mut arr = Vec::new();
    for (pos, e) in entities.iter().enumerate() {
        let allowed = parent_types(e.ty);
        let earlier: Vec<&TEntity> = entities[..pos]
            .iter()
            .filter(|q| allowed.contains(&q.ty))
            .collect();
        let mut parents: Vec<J> = if earlier.is_empty() {
            Vec::new()
        } else {
            e.parents
                .iter()
                .map(|ix| {
                    let q = earlier[ix.index(earlier.len())];
                    json!({"type": q.ty, "id": q.id})
                })
                .collect()
        };
        if let Some(t) = e.bad_parent {
            parents.push(json!({"type": t, "id": "a"}));
        }
        let mut obj = serde_json::Map::new();
        obj.insert("uid".into(), json!({"type": e.ty, "id": e.id}));
        obj.insert("attrs".into(), e.attrs.clone());
        obj.insert("parents".into(), J::Array(parents));
        if let Some(t) = &e.tags {
            obj.insert("tags".into(), t.clone());
        }
        arr.push(J::Object(obj));
    }
    let pick = |(ix, ty, id): &(Index, &'static str, String)| -> J {
        let same: Vec<&TEntity> = entities.iter().filter(|e| e.ty == *ty).collect();
        if same.is_empty() || ix.index(4) == 0 {
            json!({"type": ty, "id": id})
        } else {
            let e = same[ix.index(same.len())];
            json!({"type": e.ty, "id": e.id})
        }
    };
    let requests = requests
        .iter()
        .map(|r| {
            json!({
                "principal": pick(&r.principal),
                "action": {"type": r.action.0, "id": r.action.1},
                "resource": pick(&r.resource),
                "context": r.context,
            })
        })
        .collect();
    let link = |ix: &Index| -> J {
        if entities.is_empty() {
            json!({"type": "User", "id": "a"})
        } else {
            let e = &entities[ix.index(entities.len())];
            json!({"type": e.ty, "id": e.id})
        }
    };
    Case {
        policies,
        entities: J::Array(arr).to_string(),
        requests,
        links: [link(&links.0), link(&links.1)],
    }
}

/// The strategy for whole typed cases.
pub fn case(max_depth: usize) -> BoxedStrategy<Case> {
    let exprs = Exprs::new(max_depth);
    let pset = policy_set(&exprs, max_depth);
    let data = |sloppy: bool| {
        (
            prop::collection::vec(entity(sloppy), 0..=12),
            prop::collection::vec(request(sloppy), 1..=4),
            (any::<Index>(), any::<Index>()),
        )
            .boxed()
    };
    (choose(vec![(9, data(false)), (1, data(true))]), pset)
        .prop_map(|((e, r, l), p)| render(e, r, l, p))
        .boxed()
}
