//! Unit tests for schema loading: each construct of both formats, each name-resolution rule, and
//! each error (message, help, and what it underlines or its JSON path).
#![expect(clippy::unwrap_used, reason = "test code")]

use serde_json::json;
use smol_str::SmolStr;

use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers: the only places that call the API.

#[track_caller]
fn load(src: &str) -> Schema {
    let result = Schema::from_cedarschema(src);
    assert!(
        result.is_ok(),
        "expected the schema to load, got:\n{}\n--- schema:\n{src}",
        result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    result.unwrap()
}

#[track_caller]
fn load_json(value: serde_json::Value) -> Schema {
    let text = value.to_string();
    let from_text = Schema::from_json_str(&text);
    assert_eq!(
        from_text,
        Schema::from_json_value(&value),
        "text and value loading disagree"
    );
    assert!(
        from_text.is_ok(),
        "expected the JSON schema to load, got:\n{}\n--- schema:\n{text}",
        from_text
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    from_text.unwrap()
}

/// What an error is expected to say.
struct Expected<'a> {
    kind: SchemaErrorKind,
    message: &'a str,
    help: Option<&'a str>,
    /// For Cedar-format text: the underlined text. For JSON: the path.
    at: Option<&'a str>,
}

fn error(kind: SchemaErrorKind, message: &str) -> Expected<'_> {
    Expected {
        kind,
        message,
        help: None,
        at: None,
    }
}

impl<'a> Expected<'a> {
    fn help(self, help: &'a str) -> Self {
        Expected {
            help: Some(help),
            ..self
        }
    }
    fn at(self, at: &'a str) -> Self {
        Expected {
            at: Some(at),
            ..self
        }
    }
}

#[track_caller]
fn check_error(
    src: &str,
    result: Result<Schema, SchemaErrors>,
    expected: &Expected<'_>,
) -> SchemaErrors {
    assert!(
        result.is_err(),
        "expected an error `{}`, but the schema loaded: {:?}\n--- schema:\n{src}",
        expected.message,
        result.as_ref().ok()
    );
    let errors = result.unwrap_err();
    let found = errors.iter().find(|e| e.message == expected.message);
    assert!(
        found.is_some(),
        "expected error `{}`, got:\n{errors}\n--- schema:\n{src}",
        expected.message
    );
    let found = found.unwrap();
    assert_eq!(found.kind, expected.kind, "kind of `{}`", expected.message);
    if let Some(help) = expected.help {
        assert_eq!(
            found.help.as_deref(),
            Some(help),
            "help of `{}`",
            expected.message
        );
    }
    if let Some(at) = expected.at {
        let actual = match &found.location {
            Some(SchemaLocation::Text { start, end, .. }) => {
                src.get(*start..*end).unwrap_or("<bad range>").to_owned()
            }
            Some(SchemaLocation::Json { path }) => path.clone(),
            None => "<no location>".to_owned(),
        };
        assert_eq!(actual, at, "location of `{}`", expected.message);
    }
    errors
}

#[track_caller]
fn expect_error(src: &str, expected: Expected<'_>) -> SchemaErrors {
    check_error(src, Schema::from_cedarschema(src), &expected)
}

#[track_caller]
fn expect_json_error(value: serde_json::Value, expected: Expected<'_>) -> SchemaErrors {
    let text = value.to_string();
    let from_value = Schema::from_json_value(&value);
    let errors = check_error(&text, Schema::from_json_str(&text), &expected);
    assert_eq!(
        from_value.err(),
        Some(errors.clone()),
        "text and value loading disagree"
    );
    errors
}

fn entity<'s>(schema: &'s Schema, name: &str) -> &'s EntityTypeDef {
    schema.entity_types.get(name).unwrap()
}

fn attr<'s>(record: &'s RecordType, name: &str) -> &'s AttrType {
    record.attrs.get(name).unwrap()
}

fn attr_type(schema: &Schema, entity_name: &str, attr_name: &str) -> String {
    attr(&entity(schema, entity_name).shape, attr_name)
        .ty
        .to_string()
}

fn action<'s>(schema: &'s Schema, ty: &str, id: &str) -> &'s ActionDef {
    schema.action(ty, id).unwrap()
}

fn names(list: &[SmolStr]) -> Vec<&str> {
    list.iter().map(SmolStr::as_str).collect()
}

fn entity_ty(name: &str) -> Type {
    Type::Entity(name.into())
}

// ---------------------------------------------------------------------------------------------
// Cedar format: constructs

#[test]
fn empty_schema_and_comments_load() {
    assert_eq!(load(""), Schema::default());
    assert_eq!(
        load("// only a comment\n  \t\n// another"),
        Schema::default()
    );
    assert_eq!(load("namespace N {}"), Schema::default());
}

#[test]
fn entity_declarations() {
    let schema = load(
        r#"
        entity Group;
        entity A, B in [Group] = { "x y": Long, z?: Set<A>, };
        entity C in Group { name: String } tags Set<String>;
        entity D tags Long;
        entity E in [] {};
        "#,
    );
    let a = entity(&schema, "A");
    assert_eq!(names(&a.parents), ["Group"]);
    assert_eq!(a.shape.attrs.len(), 2);
    assert_eq!(
        attr(&a.shape, "x y"),
        &AttrType {
            ty: Type::Long,
            required: true
        }
    );
    assert_eq!(
        attr(&a.shape, "z"),
        &AttrType {
            ty: Type::Set(Box::new(entity_ty("A"))),
            required: false
        }
    );
    assert_eq!(entity(&schema, "B").shape, a.shape);
    let c = entity(&schema, "C");
    assert_eq!(names(&c.parents), ["Group"]);
    assert_eq!(c.tags, Some(Type::Set(Box::new(Type::String))));
    assert_eq!(entity(&schema, "D").tags, Some(Type::Long));
    assert_eq!(
        entity(&schema, "E"),
        &EntityTypeDef {
            name: "E".into(),
            parents: vec![],
            shape: RecordType::default(),
            tags: None,
            enum_ids: None,
        }
    );
}

#[test]
fn enumerated_entity_types() {
    let schema =
        load(r#"entity Color enum ["red", "green", "red", "\u{1F600}"]; entity Pixel in [Color];"#);
    let color = entity(&schema, "Color");
    assert_eq!(
        color.enum_ids,
        Some(vec!["red".into(), "green".into(), "\u{1F600}".into()])
    );
    assert!(color.parents.is_empty() && color.shape.attrs.is_empty() && color.tags.is_none());
    assert_eq!(names(&entity(&schema, "Pixel").parents), ["Color"]);
}

#[test]
fn annotations_are_accepted_everywhere_and_dropped() {
    let annotated = load(
        r#"
        @doc("the app") @version
        namespace App {
            @doc("a user") @if("reserved words are fine as keys")
            entity User { @doc("name") name: String, @deprecated "old"?: Long };
            @doc("a type") type Name = String;
            @doc("an action") action view, edit appliesTo { principal: User, resource: User };
        }
        "#,
    );
    let plain = load(
        r#"namespace App {
            entity User { name: String, "old"?: Long };
            type Name = String;
            action view, edit appliesTo { principal: User, resource: User };
        }"#,
    );
    assert_eq!(annotated, plain);
}

#[test]
fn namespaces_qualify_declarations() {
    let schema = load(
        r#"
        namespace A::B {
            entity User { friend: User, other: A::B::User };
            action view appliesTo { principal: User, resource: [User] };
        }
        entity Root;
        "#,
    );
    assert_eq!(
        schema
            .entity_types
            .keys()
            .map(SmolStr::as_str)
            .collect::<Vec<_>>(),
        ["A::B::User", "Root"]
    );
    assert_eq!(attr_type(&schema, "A::B::User", "friend"), "A::B::User");
    assert_eq!(attr_type(&schema, "A::B::User", "other"), "A::B::User");
    let view = action(&schema, "A::B::Action", "view");
    let applies_to = view.applies_to.as_ref().unwrap();
    assert_eq!(names(&applies_to.principal_types), ["A::B::User"]);
    assert_eq!(names(&applies_to.resource_types), ["A::B::User"]);
}

#[test]
fn primitive_extension_and_builtin_types() {
    let schema = load(
        r#"entity T {
            b: Bool, l: Long, s: String,
            ip: ipaddr, d: decimal, dt: datetime, du: duration,
            qb: __cedar::Bool, ql: __cedar::Long, qs: __cedar::String, qip: __cedar::ipaddr,
            qd: __cedar::decimal, qdt: __cedar::datetime, qdu: __cedar::duration,
            nested: Set<Set<{ inner: Set<Long> }>>,
        };"#,
    );
    let expected = [
        ("b", "Bool"),
        ("l", "Long"),
        ("s", "String"),
        ("ip", "ipaddr"),
        ("d", "decimal"),
        ("dt", "datetime"),
        ("du", "duration"),
        ("qb", "Bool"),
        ("ql", "Long"),
        ("qs", "String"),
        ("qip", "ipaddr"),
        ("qd", "decimal"),
        ("qdt", "datetime"),
        ("qdu", "duration"),
        ("nested", "Set<Set<{ \"inner\": Set<Long> }>>"),
    ];
    for (name, ty) in expected {
        assert_eq!(attr_type(&schema, "T", name), ty, "attribute `{name}`");
    }
    assert_eq!(
        attr(&entity(&schema, "T").shape, "ip").ty,
        Type::Extension("ipaddr".into())
    );
}

#[test]
fn keywords_are_identifiers_in_names() {
    let schema = load(
        r#"entity entity { principal: Long, namespace: Long, Set: Long, appliesTo: Long, "in": Long };
           entity Set; entity S { s: Set };"#,
    );
    assert_eq!(entity(&schema, "entity").shape.attrs.len(), 5);
    assert_eq!(attr_type(&schema, "S", "s"), "Set");
}

#[test]
fn repeated_attribute_names_keep_the_last_as_cedar_does() {
    let schema = load("entity A { a: Long, a: String };");
    assert_eq!(attr_type(&schema, "A", "a"), "String");
}

#[test]
fn string_escapes_in_names() {
    let schema = load(r#"entity A { "tab\there": Long, "\x41\u{42}\0": Long, "quote\"": Long };"#);
    let shape = &entity(&schema, "A").shape;
    assert!(shape.attrs.contains_key("tab\there"));
    assert!(shape.attrs.contains_key("AB\0"));
    assert!(shape.attrs.contains_key("quote\""));
}

#[test]
fn common_types_are_inlined() {
    let schema = load(
        r#"
        type Name = String;
        type Person = { name: Name, tags: Set<Name> };
        entity User { me: Person, friends: Set<Person> };
        type Ctx = { who: Person };
        action view appliesTo { principal: User, resource: User, context: Ctx };
        "#,
    );
    assert_eq!(
        attr_type(&schema, "User", "me"),
        "{ \"name\": String, \"tags\": Set<String> }"
    );
    assert_eq!(
        attr_type(&schema, "User", "friends"),
        "Set<{ \"name\": String, \"tags\": Set<String> }>"
    );
    let context = &action(&schema, "Action", "view")
        .applies_to
        .as_ref()
        .unwrap()
        .context;
    assert_eq!(
        attr(context, "who").ty.to_string(),
        "{ \"name\": String, \"tags\": Set<String> }"
    );
}

#[test]
fn action_declarations() {
    let schema = load(
        r#"
        entity User; entity Doc;
        action "read all", list;
        action "read", edit in ["read all", list] appliesTo {
            context: { ip: ipaddr },
            principal: [User, User],
            resource: Doc,
        };
        action remove in edit;
        action noop attributes {};
        "#,
    );
    assert_eq!(schema.actions.len(), 6);
    let edit = action(&schema, "Action", "edit");
    assert_eq!(
        edit.member_of,
        [
            ActionId::new("Action", "read all"),
            ActionId::new("Action", "list")
        ]
    );
    let applies_to = edit.applies_to.as_ref().unwrap();
    assert_eq!(names(&applies_to.principal_types), ["User"]);
    assert_eq!(names(&applies_to.resource_types), ["Doc"]);
    assert_eq!(
        attr(&applies_to.context, "ip").ty,
        Type::Extension("ipaddr".into())
    );
    assert_eq!(
        action(&schema, "Action", "read").applies_to,
        edit.applies_to
    );
    assert_eq!(action(&schema, "Action", "remove").applies_to, None);
    assert!(action(&schema, "Action", "noop").member_of.is_empty());
    let ancestors: Vec<String> = schema
        .action_ancestors(&ActionId::new("Action", "remove"))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        ancestors,
        [
            "Action::\"edit\"",
            "Action::\"list\"",
            "Action::\"read all\""
        ]
    );
}

#[test]
fn qualified_parent_actions() {
    let schema = load(
        r#"
        action top;
        namespace X { action "e"; }
        namespace N {
            action "d";
            action a in [top, "d", X::Action::"e", Action::"d", N::Action::"d"];
            action b in Action::"top";
        }
        "#,
    );
    let a = action(&schema, "N::Action", "a");
    assert_eq!(
        a.member_of,
        [
            ActionId::new("Action", "top"),
            ActionId::new("N::Action", "d"),
            ActionId::new("X::Action", "e"),
        ]
    );
    assert_eq!(
        action(&schema, "N::Action", "b").member_of,
        [ActionId::new("Action", "top")]
    );
}

// ---------------------------------------------------------------------------------------------
// Name resolution

#[test]
fn unqualified_names_try_the_namespace_then_the_empty_namespace() {
    let schema = load(
        r#"
        entity Tenant;
        type Shared = { x: Long };
        namespace App {
            entity User in [Tenant] { tenant: Tenant, shared: Shared, me: User };
        }
        "#,
    );
    let user = entity(&schema, "App::User");
    assert_eq!(names(&user.parents), ["Tenant"]);
    assert_eq!(attr_type(&schema, "App::User", "tenant"), "Tenant");
    assert_eq!(attr_type(&schema, "App::User", "shared"), "{ \"x\": Long }");
    assert_eq!(attr_type(&schema, "App::User", "me"), "App::User");
}

#[test]
fn common_types_win_over_entity_types_of_the_same_name() {
    let schema = load(
        r#"namespace N {
            entity U;
            type U = { a: Long };
            entity E in [U] { u: U, e: Set<U> };
            action act appliesTo { principal: U, resource: E };
        }"#,
    );
    // Parents and principal types can only be entity types; attribute types prefer the common type.
    assert_eq!(names(&entity(&schema, "N::E").parents), ["N::U"]);
    assert_eq!(attr_type(&schema, "N::E", "u"), "{ \"a\": Long }");
    assert_eq!(attr_type(&schema, "N::E", "e"), "Set<{ \"a\": Long }>");
    let applies_to = action(&schema, "N::Action", "act")
        .applies_to
        .as_ref()
        .unwrap();
    assert_eq!(names(&applies_to.principal_types), ["N::U"]);
}

#[test]
fn the_namespace_candidate_is_tried_before_builtin_aliases() {
    // `N::Long` (an entity type) is found before the empty namespace's `Long` alias.
    let schema = load(
        "namespace N { entity Long; entity E { a: Long, b: __cedar::Long }; } entity F { a: Long };",
    );
    assert_eq!(
        attr(&entity(&schema, "N::E").shape, "a").ty,
        entity_ty("N::Long")
    );
    assert_eq!(attr(&entity(&schema, "N::E").shape, "b").ty, Type::Long);
    assert_eq!(attr(&entity(&schema, "F").shape, "a").ty, Type::Long);
    // A user name in the empty namespace cannot meet a namespace's own name: RFC 70 forbids it.
    expect_error(
        "type T = { a: Long }; namespace N { entity T; entity E { t: T }; }",
        error(
            SchemaErrorKind::Shadowing,
            "`N::T` shadows `T`, which is declared outside any namespace",
        ),
    );
}

#[test]
fn declarations_may_shadow_builtin_names_as_in_the_cedar_docs() {
    let schema = load(
        r#"
        namespace Demo {
          entity Host { ip: ipaddr, bandwidth: decimal };
          entity String { groups: Set<__cedar::String> };
          type ipaddr = { repr: String, isV4: Bool };
        }
        entity Outside { s: String, ip: ipaddr };
        "#,
    );
    assert_eq!(
        attr_type(&schema, "Demo::Host", "ip"),
        "{ \"isV4\": Bool, \"repr\": Demo::String }"
    );
    assert_eq!(attr_type(&schema, "Demo::Host", "bandwidth"), "decimal");
    assert_eq!(attr_type(&schema, "Demo::String", "groups"), "Set<String>");
    assert_eq!(
        attr(&entity(&schema, "Demo::String").shape, "groups").ty,
        Type::Set(Box::new(Type::String))
    );
    // Outside the namespace the built-in names mean the built-in types.
    assert_eq!(
        attr(&entity(&schema, "Outside").shape, "s").ty,
        Type::String
    );
    assert_eq!(attr_type(&schema, "Outside", "ip"), "ipaddr");
}

#[test]
fn an_empty_namespace_declaration_replaces_the_builtin_alias() {
    let schema = load(
        "entity Long; entity E { a: Long, b: __cedar::Long }; namespace N { entity F { a: Long }; }",
    );
    assert_eq!(attr(&entity(&schema, "E").shape, "a").ty, entity_ty("Long"));
    assert_eq!(attr(&entity(&schema, "E").shape, "b").ty, Type::Long);
    assert_eq!(
        attr(&entity(&schema, "N::F").shape, "a").ty,
        entity_ty("Long")
    );
    let schema = load("type ipaddr = { v: Long }; entity E { a: ipaddr, b: __cedar::ipaddr };");
    assert_eq!(attr_type(&schema, "E", "a"), "{ \"v\": Long }");
    assert_eq!(attr_type(&schema, "E", "b"), "ipaddr");
}

#[test]
fn action_entity_types_can_be_attribute_types() {
    let schema =
        load("namespace N { entity E { a: Action, b: N::Action, c: Set<Action> }; action act; }");
    assert_eq!(
        attr(&entity(&schema, "N::E").shape, "a").ty,
        entity_ty("N::Action")
    );
    assert_eq!(attr_type(&schema, "N::E", "b"), "N::Action");
    let schema = load("entity E { a: Action }; action act;");
    assert_eq!(attr_type(&schema, "E", "a"), "Action");
}

#[test]
fn qualified_references_across_namespaces() {
    let schema = load(
        r#"
        namespace N { type T = Long; entity E; }
        namespace M { entity F in [N::E] { t: N::T, e: N::E }; }
        entity G { t: N::T };
        "#,
    );
    assert_eq!(names(&entity(&schema, "M::F").parents), ["N::E"]);
    assert_eq!(attr_type(&schema, "M::F", "t"), "Long");
    assert_eq!(attr_type(&schema, "M::F", "e"), "N::E");
    assert_eq!(attr_type(&schema, "G", "t"), "Long");
}

#[test]
fn entity_type_hierarchies_may_have_cycles() {
    let schema = load("entity A in [A, B]; entity B in [A];");
    let ancestors: Vec<&str> = schema
        .entity_type_ancestors("A")
        .into_iter()
        .map(SmolStr::as_str)
        .collect();
    assert_eq!(ancestors, ["A", "B"]);
}

// ---------------------------------------------------------------------------------------------
// Cedar format: syntax errors

#[test]
fn syntax_errors_name_what_was_expected() {
    expect_error(
        "entity A {x: Long}\nentity B;",
        error(
            SchemaErrorKind::Syntax,
            "expected `tags` or `;`, found `entity`",
        )
        .help("every declaration ends with `;`")
        .at("entity"),
    );
    expect_error(
        "entity A",
        error(
            SchemaErrorKind::Syntax,
            "expected `in`, `enum`, `{`, `=`, `tags` or `;` after the entity type name, found end of input",
        ),
    );
    expect_error(
        "entity A = Long;",
        error(
            SchemaErrorKind::Syntax,
            "expected `{` (a record type) after `=`, found `Long`",
        )
        .at("Long"),
    );
    expect_error(
        "entity A { x: Long,, };",
        error(
            SchemaErrorKind::Syntax,
            "expected an attribute name or `}`, found `,`",
        ),
    );
    expect_error(
        "entity A enum [];",
        error(
            SchemaErrorKind::Syntax,
            "expected a string literal (an entity id), found `]`",
        ),
    );
    expect_error(
        r#"entity A enum ["a",];"#,
        error(
            SchemaErrorKind::Syntax,
            "expected a string literal (an entity id), found `]`",
        ),
    );
    expect_error(
        r#"entity A enum ["a"] tags Long;"#,
        error(
            SchemaErrorKind::Syntax,
            "expected `;` after the entity declaration, found `tags`",
        ),
    );
    expect_error(
        "entity A in [B,];",
        error(
            SchemaErrorKind::Syntax,
            "expected an entity type name, found `]`",
        ),
    );
    expect_error(
        "action a in [];",
        error(
            SchemaErrorKind::Syntax,
            "expected an action name, found `]`",
        ),
    );
    expect_error(
        "action a appliesTo {};",
        error(
            SchemaErrorKind::Syntax,
            "expected `principal`, `resource` or `context`, found `}`",
        ),
    );
    expect_error(
        "action a appliesTo { principal: A, resource: A, context: Set<Long> }; entity A;",
        error(SchemaErrorKind::Syntax, "expected `,` or `}`, found `<`").at("<"),
    );
    expect_error(
        "entity A {} junk;",
        error(
            SchemaErrorKind::Syntax,
            "expected `tags` or `;`, found `junk`",
        ),
    );
    expect_error(
        "entity A in [B] junk;",
        error(
            SchemaErrorKind::Syntax,
            "expected `{`, `=`, `tags` or `;`, found `junk`",
        ),
    );
    expect_error(
        "entity A;;",
        error(
            SchemaErrorKind::Syntax,
            "expected `namespace`, `entity`, `action` or `type`, found `;`",
        ),
    );
    expect_error(
        "namespace N { entity A; };",
        error(
            SchemaErrorKind::Syntax,
            "expected `namespace`, `entity`, `action` or `type`, found `;`",
        ),
    );
    expect_error(
        "namespace N { entity A;",
        error(
            SchemaErrorKind::Syntax,
            "expected `}` to close the namespace, found end of input",
        ),
    );
    expect_error(
        "namespace N { namespace M {} }",
        error(SchemaErrorKind::Syntax, "namespaces cannot be nested").at("namespace"),
    );
    expect_error(
        "@doc() entity A;",
        error(
            SchemaErrorKind::Syntax,
            "expected a string literal as the annotation value, found `)`",
        ),
    );
    expect_error(
        "namespace N { action a in [M::Action::x]; }",
        error(
            SchemaErrorKind::Syntax,
            "expected `::` and a quoted action id after `M::Action::x`",
        )
        .help("an action in another namespace is written `M::Action::x::\"name\"`")
        .at("M::Action::x"),
    );
}

#[test]
fn lexical_errors_are_located() {
    expect_error(
        "entity A;\n  entity \"B",
        error(SchemaErrorKind::Syntax, "unterminated string literal").at("\""),
    );
    expect_error(
        "entity A; /* c */",
        error(
            SchemaErrorKind::Syntax,
            "unexpected character `/`; comments start with `//`",
        )
        .at("/"),
    );
    expect_error(
        "entity 1A;",
        error(
            SchemaErrorKind::Syntax,
            "expected an entity type name, found `1`",
        ),
    );
    let errors = expect_error(
        "entity A;\nentity B { x: Long, é: Long };",
        error(SchemaErrorKind::Syntax, "unexpected character `é`"),
    );
    assert_eq!(
        errors.first().unwrap().location,
        Some(SchemaLocation::Text {
            start: 30,
            end: 32,
            line: 2,
            column: 21
        })
    );
}

#[test]
fn json_text_given_to_the_cedar_reader_gets_a_hint() {
    expect_error(
        r#"{"": {"entityTypes": {}, "actions": {}}}"#,
        error(
            SchemaErrorKind::Syntax,
            "expected `namespace`, `entity`, `action` or `type`, found `{`",
        )
        .help("this looks like a JSON schema; load it with `Schema::from_json_str`"),
    );
}

#[test]
fn reserved_identifiers_are_rejected() {
    expect_error(
        "entity A { in: Long };",
        error(
            SchemaErrorKind::ReservedName,
            "`in` is a reserved identifier",
        )
        .help(
            "`in` cannot name anything in Cedar; for an attribute, write it as a string: `\"in\"`",
        )
        .at("in"),
    );
    for src in [
        "entity true;",
        "namespace N::if {}",
        "type then = Long;",
        "action like;",
        "entity A in [has];",
    ] {
        let errors = Schema::from_cedarschema(src).unwrap_err();
        assert_eq!(
            errors.first().unwrap().kind,
            SchemaErrorKind::ReservedName,
            "{src}"
        );
    }
    // All reserved-word errors are reported, not just the first.
    let errors =
        Schema::from_cedarschema("entity A { in: Long, is: Long, has: Long };").unwrap_err();
    assert_eq!(errors.len(), 3);
}

#[test]
fn invalid_escapes_are_rejected() {
    expect_error(
        r#"entity A enum ["\q"];"#,
        error(SchemaErrorKind::InvalidEscape, "invalid escape `\\q`").at(r#""\q""#),
    );
    expect_error(
        r#"entity A enum ["\x80"];"#,
        error(
            SchemaErrorKind::InvalidEscape,
            "`\\x80` is out of range; `\\x` escapes go up to `\\x7F`, use `\\u{80}` instead",
        ),
    );
    expect_error(
        r#"entity A { "\u{D800}": Long };"#,
        error(
            SchemaErrorKind::InvalidEscape,
            "`\\u{D800}` is a surrogate code point, not a character",
        ),
    );
}

#[test]
fn duplicate_annotations_are_rejected() {
    expect_error(
        r#"@doc("x") @doc("y") entity A;"#,
        error(
            SchemaErrorKind::DuplicateAnnotation,
            "duplicate annotation `@doc`",
        )
        .help("an annotation key may appear only once per declaration")
        .at(r#"@doc("y")"#),
    );
    expect_error(
        "entity A { @a @a x: Long };",
        error(
            SchemaErrorKind::DuplicateAnnotation,
            "duplicate annotation `@a`",
        )
        .at("@a"),
    );
}

#[test]
fn applies_to_must_have_one_principal_and_one_resource() {
    expect_error(
        "entity A;\naction a appliesTo { principal: [], resource: A };",
        error(SchemaErrorKind::InvalidAppliesTo, "`principal` of action `a` is `[]`")
            .help("list at least one principal entity type; an action that applies to nothing can omit `appliesTo`")
            .at("[]"),
    );
    expect_error(
        "entity A; action a appliesTo { resource: A };",
        error(
            SchemaErrorKind::InvalidAppliesTo,
            "missing `principal` declaration for action `a`",
        )
        .help("an `appliesTo` block must declare both `principal` and `resource`")
        .at("appliesTo { resource: A }"),
    );
    expect_error(
        "entity A; action a appliesTo { principal: A, principal: [A], resource: A };",
        error(
            SchemaErrorKind::InvalidAppliesTo,
            "duplicate `principal` declaration in action `a`",
        )
        .help("list several types in one declaration instead: `principal: [A, B]`")
        .at("principal: [A]"),
    );
    expect_error(
        "entity A; action a appliesTo { principal: A, resource: A, context: {}, context: {} };",
        error(
            SchemaErrorKind::InvalidAppliesTo,
            "duplicate context declaration in action `a`",
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Declaration errors (both formats share them)

#[test]
fn duplicate_declarations_are_rejected() {
    expect_error(
        "entity A;\nentity B, A;",
        error(
            SchemaErrorKind::DuplicateDeclaration,
            "duplicate entity type `A`",
        )
        .help("first declared at 1:8")
        .at("A"),
    );
    expect_error(
        "namespace N { type T = Long; type T = String; }",
        error(
            SchemaErrorKind::DuplicateDeclaration,
            "duplicate common type `N::T`",
        ),
    );
    expect_error(
        r#"action a; action "a";"#,
        error(
            SchemaErrorKind::DuplicateDeclaration,
            "duplicate action `Action::\"a\"`",
        )
        .at("\"a\""),
    );
    expect_error(
        "namespace N { entity A; }\nnamespace N { entity B; }",
        error(
            SchemaErrorKind::DuplicateNamespace,
            "duplicate namespace `N`",
        )
        .help("first declared at 1:11; put all its declarations in one `namespace` block"),
    );
    // An entity type and a common type may share a name.
    load("entity A; type A = Long;");
}

#[test]
fn reserved_declaration_names_are_rejected() {
    expect_error(
        "namespace A::__cedar { entity B; }",
        error(
            SchemaErrorKind::ReservedName,
            "namespace `A::__cedar` uses the reserved name `__cedar`",
        )
        .at("A::__cedar"),
    );
    expect_error(
        "entity __cedar;",
        error(
            SchemaErrorKind::ReservedName,
            "`__cedar` cannot be the name of an entity type",
        ),
    );
    expect_error(
        "type __cedar = Long;",
        error(
            SchemaErrorKind::ReservedName,
            "`__cedar` cannot be the name of a common type",
        ),
    );
    for keyword in [
        "Bool",
        "Boolean",
        "Entity",
        "Extension",
        "Long",
        "Record",
        "Set",
        "String",
    ] {
        expect_error(
            &format!("type {keyword} = Long;"),
            error(
                SchemaErrorKind::ReservedName,
                &format!("`{keyword}` cannot be the name of a common type"),
            )
            .at(keyword),
        );
    }
    expect_error(
        "namespace N { entity Action; }",
        error(SchemaErrorKind::ActionEntityTypeDeclared, "entity type `N::Action` cannot be declared")
            .help("`Action` is the entity type of the namespace's actions; declare actions with `action` instead"),
    );
}

#[test]
fn namespaces_may_not_shadow_the_empty_namespace() {
    expect_error(
        "entity User;\nnamespace App { entity User; }",
        error(
            SchemaErrorKind::Shadowing,
            "`App::User` shadows `User`, which is declared outside any namespace",
        )
        .at("User"),
    );
    expect_error(
        "type id = { a: Long }; namespace Demo { type id = String; }",
        error(
            SchemaErrorKind::Shadowing,
            "`Demo::id` shadows `id`, which is declared outside any namespace",
        ),
    );
    expect_error(
        "entity A; namespace N::M { type A = Long; }",
        error(
            SchemaErrorKind::Shadowing,
            "`N::M::A` shadows `A`, which is declared outside any namespace",
        ),
    );
    expect_error(
        "action view; namespace N { action view; }",
        error(
            SchemaErrorKind::Shadowing,
            "`N::Action::\"view\"` shadows `Action::\"view\"`, which is declared outside any namespace",
        ),
    );
    // Same names in two namespaces are fine, as is shadowing a built-in name.
    load(
        "namespace N { entity A; action a; } namespace M { entity A; action a; } namespace O { entity String; }",
    );
}

// ---------------------------------------------------------------------------------------------
// Resolution errors

#[test]
fn undefined_types_suggest_a_likely_name() {
    expect_error(
        "entity User;\nentity Doc { owner: Usr };",
        error(SchemaErrorKind::UndefinedType, "undefined type `Usr`")
            .help("did you mean `User`?")
            .at("Usr"),
    );
    expect_error(
        "namespace App { entity User; } entity Doc { owner: User };",
        error(SchemaErrorKind::UndefinedType, "undefined type `User`")
            .help("did you mean `App::User`?"),
    );
    expect_error(
        "namespace N { entity A { x: Nope }; }",
        error(SchemaErrorKind::UndefinedType, "undefined type `Nope`")
            .help("neither `N::Nope` nor `Nope` is declared as a common or entity type"),
    );
    expect_error(
        "entity A { b: Boolean };",
        error(SchemaErrorKind::UndefinedType, "undefined type `Boolean`")
            .help("the boolean type is written `Bool` (`Boolean` is its name in the JSON format's `\"type\"` field)"),
    );
    expect_error(
        "entity A { x: __cedar::Boolean };",
        error(
            SchemaErrorKind::UndefinedType,
            "undefined type `__cedar::Boolean`",
        ),
    );
    expect_error(
        "entity A { x: ipaddr::foo };",
        error(
            SchemaErrorKind::UndefinedType,
            "undefined type `ipaddr::foo`",
        ),
    );
    expect_error(
        "entity E { a: Action };",
        error(SchemaErrorKind::UndefinedType, "undefined type `Action`"),
    );
    // All undefined names are reported.
    let errors =
        Schema::from_cedarschema("entity A in [X] { a: Y, b: Set<Z> } tags W;").unwrap_err();
    assert_eq!(errors.len(), 4, "{errors}");
}

#[test]
fn references_must_have_the_right_kind() {
    expect_error(
        "namespace N { type U = { a: Long }; entity E in [U]; }",
        error(SchemaErrorKind::UndefinedType, "undefined entity type `U`")
            .help("`N::U` is a common type, but only entity types can be used here"),
    );
    expect_error(
        "entity A; action a appliesTo { principal: A, resource: A, context: A };",
        error(SchemaErrorKind::UndefinedType, "undefined common type `A`")
            .help("`A` is an entity type, but a common type is needed here (a record type for a context or shape)"),
    );
    expect_error(
        "namespace N { action a appliesTo { principal: Action, resource: Action }; }",
        error(SchemaErrorKind::UndefinedType, "undeclared entity type `N::Action` used as a principal type")
            .help("`N::Action` is the entity type of actions; only entity types declared with `entity` can be used as a principal type"),
    );
    expect_error(
        "entity A in [Action]; action a;",
        error(
            SchemaErrorKind::UndefinedType,
            "undeclared entity type `Action` used as a parent type",
        ),
    );
    expect_error(
        "entity A { x: B }; namespace N { entity B; }",
        error(SchemaErrorKind::UndefinedType, "undefined type `B`").help("did you mean `N::B`?"),
    );
}

#[test]
fn undefined_parent_actions_suggest_a_likely_name() {
    expect_error(
        "action read; action edit in [raed];",
        error(
            SchemaErrorKind::UndefinedAction,
            "undefined action `Action::\"raed\"`",
        )
        .help("did you mean `Action::\"read\"`?")
        .at("raed"),
    );
    expect_error(
        "namespace M { action read; } namespace N { action edit in read; }",
        error(
            SchemaErrorKind::UndefinedAction,
            "undefined action `Action::\"read\"`",
        )
        .help("did you mean `M::Action::\"read\"`?"),
    );
    expect_error(
        "action a in [Foo::\"x\"]; action x;",
        error(
            SchemaErrorKind::UndefinedAction,
            "undefined action `Foo::\"x\"`",
        ),
    );
}

#[test]
fn common_type_cycles_are_rejected() {
    expect_error(
        "type A = Set<B>;\ntype B = { a: A };",
        error(
            SchemaErrorKind::CommonTypeCycle,
            "common types refer to each other in a cycle: `A` -> `B` -> `A`",
        )
        .help("a common type cannot contain itself; use an entity type for recursive data")
        .at("A"),
    );
    expect_error(
        "type T = Set<T>;",
        error(
            SchemaErrorKind::CommonTypeCycle,
            "common types refer to each other in a cycle: `T` -> `T`",
        ),
    );
}

#[test]
fn action_cycles_are_rejected() {
    expect_error(
        "action a in [a];",
        error(
            SchemaErrorKind::ActionCycle,
            "actions are members of each other in a cycle: `Action::\"a\"` -> `Action::\"a\"`",
        ),
    );
    expect_error(
        "action a in b; action b in c; action c in a;",
        error(
            SchemaErrorKind::ActionCycle,
            "actions are members of each other in a cycle: `Action::\"a\"` -> `Action::\"b\"` -> `Action::\"c\"` -> `Action::\"a\"`",
        ),
    );
}

#[test]
fn shapes_and_contexts_must_be_records() {
    expect_error(
        "type C = Long; entity A; action a appliesTo { principal: A, resource: A, context: C };",
        error(
            SchemaErrorKind::NotARecord,
            "the context of action `Action::\"a\"` must be a record type, but it is `Long`",
        )
        .at("C"),
    );
    expect_error(
        "entity A; action a appliesTo { principal: A, resource: A, context: __cedar::Long };",
        error(
            SchemaErrorKind::NotARecord,
            "the context of action `Action::\"a\"` must be a record type, but it is `Long`",
        ),
    );
    let schema = load(
        "type C = { ip: ipaddr }; entity A; action a appliesTo { principal: A, resource: A, context: C };",
    );
    let context = &action(&schema, "Action", "a")
        .applies_to
        .as_ref()
        .unwrap()
        .context;
    assert_eq!(attr(context, "ip").ty, Type::Extension("ipaddr".into()));
}

// ---------------------------------------------------------------------------------------------
// Limits

fn nested(open: &str, middle: &str, close: &str, depth: usize) -> String {
    let mut text = String::with_capacity((open.len() + close.len()) * depth + middle.len());
    for _ in 0..depth {
        text.push_str(open);
    }
    text.push_str(middle);
    for _ in 0..depth {
        text.push_str(close);
    }
    text
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let message = format!("type nesting exceeds the limit of {MAX_TYPE_DEPTH} levels");
    for src in [
        format!(
            "entity A {{ a: {} }};",
            nested("Set<", "Long", ">", 100_000)
        ),
        format!(
            "entity A {{ a: {} }};",
            nested("{ a: ", "Long", " }", 100_000)
        ),
        format!("type T = {};", nested("Set<", "Long", ">", 100_000)),
    ] {
        let errors = Schema::from_cedarschema(&src).unwrap_err();
        let first = errors.first().unwrap();
        assert_eq!(
            (first.kind, first.message.as_str()),
            (SchemaErrorKind::TooDeep, message.as_str())
        );
    }
    // Right at the limit is fine: the shape record is level 1, so 126 sets fit around `Long`.
    load(&format!(
        "entity A {{ a: {} }};",
        nested("Set<", "Long", ">", MAX_TYPE_DEPTH - 2)
    ));
    assert!(
        Schema::from_cedarschema(&format!(
            "entity A {{ a: {} }};",
            nested("Set<", "Long", ">", MAX_TYPE_DEPTH - 1)
        ))
        .is_err()
    );
}

#[test]
fn deep_json_is_an_error_not_a_stack_overflow() {
    let element = nested(
        r#"{"type": "Set", "element": "#,
        r#"{"type": "Long"}"#,
        "}",
        100_000,
    );
    let src =
        format!(r#"{{"": {{"entityTypes": {{"A": {{"tags": {element}}}}}, "actions": {{}}}}}}"#);
    let errors = Schema::from_json_str(&src).unwrap_err();
    assert_eq!(errors.first().unwrap().kind, SchemaErrorKind::TooDeep);

    // A `serde_json::Value` has no depth limit of its own. (`json!` would deep-copy an
    // interpolated value recursively, so the nesting is built by hand.)
    let mut ty = json!({"type": "Long"});
    for _ in 0..100_000 {
        ty = set_of(ty);
    }
    let value = schema_with_tags(ty);
    let errors = Schema::from_json_value(&value).unwrap_err();
    assert_eq!(errors.first().unwrap().kind, SchemaErrorKind::TooDeep);
    drop_deep_value(value);

    // Nesting within the limit but past serde_json's own text limit of 128: the value loads.
    let mut ty = json!({"type": "Long"});
    for _ in 0..100 {
        ty = set_of(ty);
    }
    load_json_value_only(&schema_with_tags(ty));
}

fn set_of(element: serde_json::Value) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("type".to_owned(), "Set".into());
    map.insert("element".to_owned(), element);
    serde_json::Value::Object(map)
}

/// `{"": {"entityTypes": {"A": {"tags": tags}}, "actions": {}}}`.
fn schema_with_tags(tags: serde_json::Value) -> serde_json::Value {
    let mut entity = serde_json::Map::new();
    entity.insert("tags".to_owned(), tags);
    let mut entity_types = serde_json::Map::new();
    entity_types.insert("A".to_owned(), serde_json::Value::Object(entity));
    let mut namespace = serde_json::Map::new();
    namespace.insert(
        "entityTypes".to_owned(),
        serde_json::Value::Object(entity_types),
    );
    namespace.insert("actions".to_owned(), json!({}));
    let mut root = serde_json::Map::new();
    root.insert(String::new(), serde_json::Value::Object(namespace));
    serde_json::Value::Object(root)
}

#[test]
fn the_deepest_accepted_json_value_loads_on_a_small_stack() {
    // Records nested to the limit make the deepest JSON (two JSON levels per record level).
    let mut ty = json!({"type": "Long"});
    for _ in 0..MAX_TYPE_DEPTH - 1 {
        let mut attribute = serde_json::Map::new();
        attribute.insert("a".to_owned(), ty);
        let mut record = serde_json::Map::new();
        record.insert("type".to_owned(), "Record".into());
        record.insert(
            "attributes".to_owned(),
            serde_json::Value::Object(attribute),
        );
        ty = serde_json::Value::Object(record);
    }
    let value = schema_with_tags(ty);
    // Test threads have 2 MiB stacks; run on a smaller one to leave headroom for callers.
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let loaded = Schema::from_json_value(&value).is_ok();
            let text_loaded = Schema::from_json_str(&value.to_string()).is_ok();
            drop_deep_value(value);
            (loaded, text_loaded)
        })
        .unwrap();
    // The value loads; its text is deeper than serde_json's 128-level limit, as in Cedar.
    assert_eq!(handle.join().unwrap(), (true, false));
}

#[test]
fn the_deepest_accepted_cedar_type_loads_on_a_small_stack() {
    let src = format!(
        "type T = {};",
        nested("{ a: ", "Long", " }", MAX_TYPE_DEPTH - 1)
    );
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || Schema::from_cedarschema(&src).is_ok())
        .unwrap();
    assert!(handle.join().unwrap());
}

fn load_json_value_only(value: &serde_json::Value) {
    let result = Schema::from_json_value(value);
    assert!(
        result.is_ok(),
        "{}",
        result.err().map(|e| e.to_string()).unwrap_or_default()
    );
}

/// Drops a deeply nested JSON value without recursing (serde_json's own drop recurses).
fn drop_deep_value(value: serde_json::Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[test]
fn inlining_past_the_depth_limit_is_an_error() {
    let mut src = String::from("type T0 = Set<Long>;\n");
    for index in 1..=MAX_TYPE_DEPTH {
        src.push_str(&format!("type T{index} = Set<T{}>;\n", index - 1));
    }
    src.push_str("entity A;");
    let errors = expect_error(
        &src,
        error(
            SchemaErrorKind::TooDeep,
            "type nesting exceeds the limit of 128 levels once common types are inlined",
        )
        .at(&format!("T{}", MAX_TYPE_DEPTH - 2)),
    );
    assert_eq!(
        errors.len(),
        1,
        "dependents of the failed type are not reported again: {errors}"
    );
}

#[test]
fn exponential_inlining_is_bounded() {
    let mut src = String::from("type T0 = { a: Long };\n");
    for index in 1..40 {
        src.push_str(&format!(
            "type T{index} = {{ a: T{p}, b: T{p} }};\n",
            p = index - 1
        ));
    }
    let errors = Schema::from_cedarschema(&src).unwrap_err();
    assert_eq!(
        errors.first().unwrap().kind,
        SchemaErrorKind::TooLarge,
        "{errors}"
    );
}

#[test]
fn long_alias_chains_do_not_recurse() {
    let mut src = String::from("type T0 = Long;\n");
    for index in 1..10_000 {
        src.push_str(&format!("type T{index} = T{};\n", index - 1));
    }
    src.push_str("entity A { a: T9999 };");
    let schema = load(&src);
    assert_eq!(attr(&entity(&schema, "A").shape, "a").ty, Type::Long);
    // And a long cycle is found without recursion.
    let mut src = String::from("type T0 = T9999;\n");
    for index in 1..10_000 {
        src.push_str(&format!("type T{index} = T{};\n", index - 1));
    }
    let errors = Schema::from_cedarschema(&src).unwrap_err();
    assert_eq!(
        errors.first().unwrap().kind,
        SchemaErrorKind::CommonTypeCycle
    );
}

#[test]
fn long_action_chains_do_not_recurse() {
    let mut src = String::from("action a0;\n");
    for index in 1..10_000 {
        src.push_str(&format!("action a{index} in a{};\n", index - 1));
    }
    let schema = load(&src);
    assert_eq!(
        schema
            .action_ancestors(&ActionId::new("Action", "a9999"))
            .len(),
        9_999
    );
}

// ---------------------------------------------------------------------------------------------
// JSON format

#[test]
fn json_constructs() {
    let schema = load_json(json!({
        "": {
            "entityTypes": { "Root": {} },
            "actions": { "global": {} },
            "commonTypes": { "Shared": { "type": "Record", "attributes": { "v": { "type": "Long" } } } }
        },
        "N": {
            "annotations": { "doc": "namespace docs", "if": null },
            "commonTypes": {
                "Name": { "type": "String", "annotations": { "doc": "a name" } },
                "Ctx": { "type": "Record", "attributes": { "ip": { "type": "ipaddr" } } }
            },
            "entityTypes": {
                "User": {
                    "memberOfTypes": ["Group", "Root"],
                    "shape": {
                        "type": "Record",
                        "additionalAttributes": false,
                        "attributes": {
                            "name": { "type": "Name", "annotations": { "doc": "x" } },
                            "flag": { "type": "Boolean" },
                            "alias": { "type": "Bool", "required": false },
                            "group": { "type": "Entity", "name": "Group" },
                            "either": { "type": "EntityOrCommon", "name": "Shared" },
                            "when": { "type": "Extension", "name": "datetime" },
                            "act": { "type": "Entity", "name": "Action" },
                            "list": { "type": "Set", "element": { "type": "__cedar::Long" } }
                        }
                    },
                    "tags": { "type": "String" }
                },
                "Group": { "shape": { "type": "EntityOrCommon", "name": "Ctx" } },
                "Kind": { "enum": ["a", "b"], "annotations": { "doc": "k" } }
            },
            "actions": {
                "view": {
                    "memberOf": [{ "id": "global", "type": "Action" }, { "id": "all" }],
                    "appliesTo": {
                        "principalTypes": ["User"],
                        "resourceTypes": ["Group", "Kind"],
                        "context": { "type": "Ctx" }
                    },
                    "annotations": { "doc": "v" },
                    "attributes": null
                },
                "all": { "appliesTo": null, "memberOf": null }
            }
        }
    }));
    let user = entity(&schema, "N::User");
    assert_eq!(names(&user.parents), ["N::Group", "Root"]);
    let expected = [
        ("name", "String"),
        ("flag", "Bool"),
        ("alias", "Bool"),
        ("group", "N::Group"),
        ("either", "{ \"v\": Long }"),
        ("when", "datetime"),
        ("act", "N::Action"),
        ("list", "Set<Long>"),
    ];
    for (name, ty) in expected {
        assert_eq!(
            attr_type(&schema, "N::User", name),
            ty,
            "attribute `{name}`"
        );
    }
    assert!(!attr(&user.shape, "alias").required);
    assert_eq!(user.tags, Some(Type::String));
    assert_eq!(
        attr(&entity(&schema, "N::Group").shape, "ip").ty,
        Type::Extension("ipaddr".into())
    );
    assert_eq!(
        entity(&schema, "N::Kind").enum_ids,
        Some(vec!["a".into(), "b".into()])
    );
    let view = action(&schema, "N::Action", "view");
    assert_eq!(
        view.member_of,
        [
            ActionId::new("Action", "global"),
            ActionId::new("N::Action", "all")
        ]
    );
    assert_eq!(
        action(&schema, "N::Action", "all"),
        &ActionDef {
            id: ActionId::new("N::Action", "all"),
            member_of: vec![],
            applies_to: None,
        }
    );
}

#[test]
fn json_and_cedar_formats_agree() {
    let pairs = [
        (
            "entity A in [A] { a?: Set<A> } tags Long; action x appliesTo { principal: A, resource: [A] }; action y in x appliesTo { principal: A, resource: [A] };",
            json!({"": {
                "entityTypes": { "A": {
                    "memberOfTypes": ["A"],
                    "shape": { "type": "Record", "attributes": {
                        "a": { "type": "Set", "element": { "type": "Entity", "name": "A" }, "required": false } } },
                    "tags": { "type": "Long" } } },
                "actions": {
                    "x": { "appliesTo": { "principalTypes": ["A"], "resourceTypes": ["A"] } },
                    "y": { "memberOf": [{ "id": "x" }], "appliesTo": { "principalTypes": ["A"], "resourceTypes": ["A"] } } }
            }}),
        ),
        (
            // A Cedar-format shape is written as a record; JSON may name a common type.
            "namespace N { type T = { s: String }; entity E = { s: String }; action a; }",
            json!({"N": {
                "commonTypes": { "T": { "type": "Record", "attributes": { "s": { "type": "String" } } } },
                "entityTypes": { "E": { "shape": { "type": "T" } } },
                "actions": { "a": {} }
            }}),
        ),
        (
            r#"entity E enum ["x", "y"];"#,
            json!({"": { "entityTypes": { "E": { "enum": ["x", "y"] } }, "actions": {} }}),
        ),
    ];
    for (cedar, json_value) in pairs {
        assert_eq!(load(cedar), load_json(json_value), "{cedar}");
    }
}

#[test]
fn json_structure_errors_have_paths() {
    expect_json_error(
        json!({"N": {"entityTypes": {"User": {"shape": {"type": "Long"}}}, "actions": {}}}),
        error(
            SchemaErrorKind::NotARecord,
            "the shape of entity type `N::User` must be a record type, but it is `Long`",
        )
        .help("write a record type `{ ... }`, or name a common type that is a record type")
        .at("$.N.entityTypes.User.shape"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"User": {"shap": {}}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "unknown field `shap` in an entity type definition",
        )
        .help("did you mean `shape`?")
        .at("$.N.entityTypes.User.shap"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "missing field `actions` in a namespace definition",
        )
        .at("$.N"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"shape": {"type": "Record", "attributes": {"b": {"type": "Set", "element": {"type": "Long", "required": false}}}}}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "unknown field `required` in a type",
        )
        .at("$.N.entityTypes.A.shape.attributes.b.element.required"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"shape": {"type": "Record", "attributes": {"b c": {"type": "Long", "name": "x"}}}}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "unexpected field `name` for type `Long`",
        )
        .at("$.N.entityTypes.A.shape.attributes[\"b c\"].name"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"shape": {"type": "Record", "attributes": {"b": {"type": "Entity"}}}}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "missing field `name` for type `Entity` (the entity type)",
        ),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"enum": ["a"], "tags": {"type": "Long"}}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "unexpected field `tags` in an enumerated entity type",
        ),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"enum": []}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "`enum` must list at least one entity id",
        ),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"memberOfTypes": null}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "`memberOfTypes` cannot be `null`",
        )
        .help("omit `memberOfTypes` instead"),
    );
    expect_json_error(
        json!({"": {"entityTypes": {}, "actions": {}, "annotations": {"doc": "x"}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "annotations are not allowed on the empty namespace",
        )
        .at("$[\"\"].annotations"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {}, "actions": {"a": {"appliesTo": {"principalTypes": []}}}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "missing field `resourceTypes` in `appliesTo`",
        )
        .at("$.N.actions.a.appliesTo"),
    );
    expect_json_error(
        json!({"A:: B": {"entityTypes": {}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "invalid namespace name `A:: B`",
        )
        .help("a name is identifiers (`[_a-zA-Z][_a-zA-Z0-9]*`) joined by `::`, with no spaces"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"in": {}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "invalid entity type name `in`",
        )
        .help("`in` is a reserved identifier"),
    );
    expect_json_error(
        json!({"N": {"commonTypes": {"A::B": {"type": "Long"}}, "entityTypes": {}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "invalid common type name `A::B`",
        ),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"annotations": {"doc": 1}}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "expected an annotation value (a string or `null`), found a number",
        )
        .at("$.N.entityTypes.A.annotations.doc"),
    );
}

#[test]
fn json_duplicate_keys_are_rejected() {
    let src = r#"{"N": {"entityTypes": {"A": {}, "A": {}}, "actions": {}}}"#;
    let errors = Schema::from_json_str(src).unwrap_err();
    let first = errors.first().unwrap();
    assert_eq!(first.message, "duplicate key `A`");
    assert_eq!(
        first.location,
        Some(SchemaLocation::Json {
            path: "$.N.entityTypes.A".into()
        })
    );
    let src = r#"{"N": {"entityTypes": {"A": {"shape": {"type": "Record", "type": "Record", "attributes": {}}}}, "actions": {}}}"#;
    assert_eq!(
        Schema::from_json_str(src)
            .unwrap_err()
            .first()
            .unwrap()
            .message,
        "duplicate key `type`"
    );
}

#[test]
fn json_resolution_errors() {
    expect_json_error(
        json!({"N": {"entityTypes": {"User": {}, "Doc": {"shape": {"type": "Record", "attributes": {"o": {"type": "Entity", "name": "Usr"}}}}}, "actions": {}}}),
        error(
            SchemaErrorKind::UndefinedType,
            "undefined entity type `Usr`",
        )
        .help("did you mean `User`?")
        .at("$.N.entityTypes.Doc.shape.attributes.o"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"User": {"shape": {"type": "Record", "attributes": {"o": {"type": "User"}}}}}, "actions": {}}}),
        error(SchemaErrorKind::UndefinedType, "undefined common type `User`")
            .help("`N::User` is an entity type, but a common type is needed here (a record type for a context or shape)"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"shape": {"type": "Record", "attributes": {"b": {"type": "Extension", "name": "ipadr"}}}}}, "actions": {}}}),
        error(
            SchemaErrorKind::UnknownExtension,
            "unknown extension type `ipadr`",
        )
        .help("did you mean `ipaddr`?"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"shape": {"type": "Record", "attributes": {}, "additionalAttributes": true}}}, "actions": {}}}),
        error(
            SchemaErrorKind::Unsupported,
            "records with `additionalAttributes: true` are not supported",
        )
        .at("$.N.entityTypes.A.shape"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {}, "actions": {"a": {"attributes": {}}}}}),
        error(
            SchemaErrorKind::Unsupported,
            "action `a` declares attributes",
        )
        .at("$.N.actions.a.attributes"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {}, "actions": {"a": {"memberOf": [{"id": "b", "type": "M::Action"}]}}}}),
        error(
            SchemaErrorKind::UndefinedAction,
            "undefined action `M::Action::\"b\"`",
        )
        .at("$.N.actions.a.memberOf[0]"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"Action": {}}, "actions": {}}}),
        error(
            SchemaErrorKind::ActionEntityTypeDeclared,
            "entity type `N::Action` cannot be declared",
        ),
    );
}

#[test]
fn json_errors_are_all_reported() {
    let errors = Schema::from_json_value(&json!({
        "N": {"entityTypes": {"A": {"shap": {}, "tags": null}}, "actions": {"a": {"appliesTo": {}}}}
    }))
    .unwrap_err();
    assert_eq!(errors.len(), 4, "{errors}");
}

#[test]
fn json_syntax_errors_and_misplaced_namespaces_get_hints() {
    let errors = Schema::from_json_str("{\n  \"N\": {,\n}").unwrap_err();
    let first = errors.first().unwrap();
    assert_eq!(first.kind, SchemaErrorKind::Syntax);
    assert!(
        matches!(first.location, Some(SchemaLocation::Text { line: 2, .. })),
        "{first}"
    );
    let errors = Schema::from_json_str("entity A;").unwrap_err();
    assert_eq!(
        errors.first().unwrap().help.as_deref(),
        Some("this looks like the Cedar schema format; load it with `Schema::from_cedarschema`")
    );
    expect_json_error(
        json!({"entityTypes": {}, "actions": {}}),
        error(SchemaErrorKind::JsonStructure, "missing field `entityTypes` in a namespace definition")
            .help("a JSON schema maps namespace names to definitions; for the empty namespace write `{\"\": {\"entityTypes\": ..., \"actions\": ...}}`"),
    );
}

#[test]
fn json_parts_may_be_positional_arrays_as_in_cedar() {
    // Cedar reads namespaces, entity types, actions, `appliesTo` and parent actions with derived
    // `serde` deserializers, which also accept an array of the field values in declaration order.
    let positional = load_json(json!({"N": [
        {},
        {"A": [], "B": [["A"], {"type": "Record", "attributes": {"x": {"type": "Long"}}}]},
        {"view": [null, [["B"], ["A"]], [["all"]]], "all": []}
    ]}));
    let named = load(
        "namespace N { entity A; entity B in [A] { x: Long }; action all; action view in all appliesTo { principal: A, resource: B }; }",
    );
    assert_eq!(positional, named);
    expect_json_error(
        json!({"N": [{}, {}, {}, {}, 1]}),
        error(
            SchemaErrorKind::JsonStructure,
            "expected a namespace definition, found an array of 5 values",
        )
        .at("$.N"),
    );
    // Types and attributes are never positional, as in Cedar.
    expect_json_error(
        json!({"N": {"entityTypes": {"A": {"shape": [{"type": "Long"}]}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "expected a type (a JSON object), found an array",
        ),
    );
}

#[test]
fn external_declarations_are_reported_as_unsupported() {
    let help = "`external` declarations (Cedar 4.14 schema linking, RFC 116) make a partial schema, which Mandate does not load; declare the entity type or action in full";
    expect_error(
        "external entity B;\nentity A in B;",
        error(
            SchemaErrorKind::Unsupported,
            "external entity type declarations are not supported",
        )
        .help(help)
        .at("external entity"),
    );
    expect_error(
        "external action g in [h];",
        error(
            SchemaErrorKind::Unsupported,
            "external action declarations are not supported",
        ),
    );
    expect_error(
        "external entity;",
        error(
            SchemaErrorKind::Syntax,
            "expected an entity type name, found `;`",
        ),
    );
    // `external` remains an ordinary identifier.
    load("entity external { external: Long };");
    expect_json_error(
        json!({"N": {"entityTypes": {"B": {"external": true}}, "actions": {}}}),
        error(
            SchemaErrorKind::Unsupported,
            "external entity type declarations are not supported",
        )
        .at("$.N.entityTypes.B.external"),
    );
    expect_json_error(
        json!({"N": {"entityTypes": {"B": {"external": null}}, "actions": {}}}),
        error(
            SchemaErrorKind::JsonStructure,
            "expected `external` to be a boolean, found `null`",
        ),
    );
    // `false` (and, on actions, `null`) means "not external", as in Cedar 4.14.
    load_json(
        json!({"N": {"entityTypes": {"B": {"external": false}}, "actions": {"a": {"external": false}, "b": {"external": null}}}}),
    );
}

#[test]
fn errors_are_reported_once_in_source_order() {
    let errors =
        Schema::from_cedarschema("entity B { y: Zz };\nentity A1, A2 in [X];").unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "1:15: undefined type `Zz`",
            "2:19: undefined entity type `X`"
        ]
    );
}

#[test]
fn error_display_has_location_message_and_help() {
    let errors = Schema::from_cedarschema("entity User;\nentity Doc { owner: Usr };").unwrap_err();
    assert_eq!(
        errors.to_string(),
        "2:21: undefined type `Usr`\n  help: did you mean `User`?"
    );
    let errors = Schema::from_json_value(
        &json!({"N": {"entityTypes": {"A": {"shape": {"type": "Long"}}}, "actions": {}}}),
    )
    .unwrap_err();
    assert_eq!(
        errors.to_string(),
        "$.N.entityTypes.A.shape: the shape of entity type `N::A` must be a record type, but it is `Long`\n  help: write a record type `{ ... }`, or name a common type that is a record type"
    );
}
