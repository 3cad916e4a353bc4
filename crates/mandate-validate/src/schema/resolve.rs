//! Turns the declarations of both formats into the resolved model, with Cedar 4's rules
//! (`ValidatorSchema::from_schema_fragments`, `ConditionalName::resolve`, RFC 24 and RFC 70;
//! summarized for users in the `schema` module documentation).
//!
//! Stages, each reporting every error it finds before the next runs:
//!
//! 1. **Declarations.** Namespace names may not contain `__cedar` and may not repeat. In each
//!    namespace, entity types, common types and actions may not repeat; an entity type and a
//!    common type may share a name (the common type wins in references). No entity type may be
//!    named `Action` or `__cedar`; no common type may be named `__cedar` or a type keyword (`Bool`,
//!    `Boolean`, `Entity`, `Extension`, `Long`, `Record`, `Set`, `String`). RFC 70: nothing
//!    declared in a namespace may share its basename with an entity or common type declared in
//!    the empty namespace, and no action in a namespace may share its id with an action in the
//!    empty namespace.
//! 2. **References.** A name written with `::` means exactly that name. An unqualified name `X`
//!    written in namespace `NS` means `NS::X` if that is declared, else `X` in the empty
//!    namespace. At each of these candidates, in order, a common type is preferred to an entity
//!    type (RFC 24). The primitive and extension types are common types in the `__cedar`
//!    namespace (`__cedar::Long`, ..., `__cedar::duration`), and the empty namespace has aliases
//!    `Bool`, `Long`, `String`, `ipaddr`, `decimal`, `datetime`, `duration` for them unless the
//!    schema declares that name as an entity or common type in the empty namespace. `Boolean`
//!    is the JSON format's spelling of the primitive; it is not a type name. Each namespace with
//!    actions also has the entity type `NS::Action`, which attribute types may name. Parents of
//!    entity types and `principal`/`resource` types name entity types only (not common types,
//!    not action types); `context: Name` and JSON `{"type": "Name"}` name common types only. A
//!    parent action `"a"` or `Action::"a"` written in `NS` means `NS::Action::"a"` if declared,
//!    else `Action::"a"`; `X::Action::"a"` means exactly that.
//! 3. **Common types** must not refer to each other in a cycle; they are inlined everywhere.
//! 4. **Shapes and contexts** must be record types. Extension names must be known. Open records
//!    (`additionalAttributes: true`) are rejected, as Cedar does without `partial-validate`.
//! 5. **Actions** must not be members of each other in a cycle (entity types may).
//!
//! An action whose principal or resource list is empty applies to no request; it loads with
//! `applies_to: None`, like an action without `appliesTo` (Cedar treats them alike).

use std::collections::{BTreeMap, BTreeSet};

use smol_str::SmolStr;

use super::error::{
    SchemaError, SchemaErrorKind, SchemaErrors, SchemaLocation, closest, did_you_mean,
};
use super::model::{
    ActionDef, ActionId, AppliesTo, AttrType, EntityTypeDef, RecordType, Schema, Type,
};
use super::raw::{
    Locator, Origin, RawAction, RawActionRef, RawCommonType, RawEntityKind, RawEntityType, RawName,
    RawNamespace, RawType, RawTypeKind,
};
use super::{MAX_INLINED_TYPE_NODES, MAX_TYPE_DEPTH};

/// The reserved namespace of built-in types.
const CEDAR_NAMESPACE: &str = "__cedar";

/// The extension types Cedar 4 enables by default.
pub(crate) const EXTENSION_TYPES: [&str; 4] = ["ipaddr", "decimal", "datetime", "duration"];

/// Names that cannot be common type names (Cedar's `CommonTypeId`).
const RESERVED_COMMON_TYPE_NAMES: [&str; 8] = [
    "Bool",
    "Boolean",
    "Entity",
    "Extension",
    "Long",
    "Record",
    "Set",
    "String",
];

/// The entity type name reserved for actions.
const ACTION: &str = "Action";

/// A primitive or extension type, as defined in the `__cedar` namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Builtin {
    Bool,
    Long,
    String,
    Extension(&'static str),
}

impl Builtin {
    fn from_basename(name: &str) -> Option<Builtin> {
        match name {
            "Bool" => Some(Builtin::Bool),
            "Long" => Some(Builtin::Long),
            "String" => Some(Builtin::String),
            other => EXTENSION_TYPES
                .iter()
                .find(|ext| **ext == other)
                .map(|ext| Builtin::Extension(ext)),
        }
    }

    fn to_type(self) -> Type {
        match self {
            Builtin::Bool => Type::Bool,
            Builtin::Long => Type::Long,
            Builtin::String => Type::String,
            Builtin::Extension(name) => Type::Extension(SmolStr::new_static(name)),
        }
    }
}

const BUILTIN_NAMES: [&str; 7] = [
    "Bool", "Long", "String", "ipaddr", "decimal", "datetime", "duration",
];

/// What a reference may resolve to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefKind {
    Common,
    Entity,
    CommonOrEntity,
}

impl RefKind {
    fn allows_common(self) -> bool {
        matches!(self, RefKind::Common | RefKind::CommonOrEntity)
    }
    fn allows_entity(self) -> bool {
        matches!(self, RefKind::Entity | RefKind::CommonOrEntity)
    }
    fn noun(self) -> &'static str {
        match self {
            RefKind::Common => "common type",
            RefKind::Entity => "entity type",
            RefKind::CommonOrEntity => "type",
        }
    }
}

/// What a reference resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A user-declared common type (full name).
    Common(SmolStr),
    /// A primitive or extension type.
    Builtin(Builtin),
    /// An entity type (full name), possibly an action type such as `NS::Action`.
    Entity(SmolStr),
}

/// `ns::id`, or `id` in the empty namespace.
fn qualify(namespace: Option<&str>, id: &str) -> SmolStr {
    match namespace {
        Some(namespace) => SmolStr::new(format!("{namespace}::{id}")),
        None => SmolStr::new(id),
    }
}

/// The last `::`-separated part of a name.
fn basename(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// A declaration with the namespace it is in.
struct InNamespace<'r, T> {
    namespace: Option<&'r str>,
    decl: &'r T,
}

/// All declarations, by fully qualified name.
struct Declarations<'r> {
    entities: BTreeMap<SmolStr, InNamespace<'r, RawEntityType>>,
    commons: BTreeMap<SmolStr, InNamespace<'r, RawCommonType>>,
    actions: BTreeMap<ActionId, InNamespace<'r, RawAction>>,
    /// `NS::Action` for every namespace with actions.
    action_types: BTreeSet<SmolStr>,
    /// Built-in names usable without `__cedar::` (those not declared in the empty namespace).
    aliases: BTreeSet<&'static str>,
}

/// The result of building one type: the type, its nesting depth, and its node count.
struct Built {
    ty: Type,
    depth: usize,
    nodes: usize,
}

struct Resolver<'r, 'l> {
    locator: &'l Locator<'l>,
    decls: Declarations<'r>,
    errors: Vec<SchemaError>,
    /// Inlined common types by full name.
    common_memo: BTreeMap<SmolStr, Built>,
    /// Type nodes built so far, bounded by [`MAX_INLINED_TYPE_NODES`].
    total_nodes: usize,
}

/// Resolves raw namespaces into a schema.
pub(crate) fn resolve(
    namespaces: &[RawNamespace],
    locator: &Locator<'_>,
) -> Result<Schema, SchemaErrors> {
    let mut errors = Vec::new();
    let decls = declare(namespaces, locator, &mut errors);
    if let Some(errors) = SchemaErrors::from_vec(tidy(errors)) {
        return Err(errors);
    }
    let mut resolver = Resolver {
        locator,
        decls,
        errors: Vec::new(),
        common_memo: BTreeMap::new(),
        total_nodes: 0,
    };
    let deps = resolver.check_references();
    resolver.take_errors()?;
    let order = resolver.common_type_order(&deps)?;
    resolver.build_common_types(&order, &deps)?;
    let schema = resolver.build_schema();
    resolver.take_errors()?;
    check_action_cycles(&schema, &resolver)?;
    Ok(schema)
}

fn located(
    locator: &Locator<'_>,
    kind: SchemaErrorKind,
    origin: &Origin,
    message: impl Into<String>,
) -> SchemaError {
    SchemaError::new(kind, message, locator.locate(origin))
}

/// Where an earlier declaration is, for "declared earlier at ..." help.
fn earlier(locator: &Locator<'_>, origin: &Origin) -> Option<String> {
    locator.locate(origin).map(|location| match location {
        SchemaLocation::Text { line, column, .. } => format!("first declared at {line}:{column}"),
        SchemaLocation::Json { path } => format!("first declared at `{path}`"),
    })
}

/// Stage 1: collects declarations, checking names, duplicates and RFC 70 shadowing.
fn declare<'r>(
    namespaces: &'r [RawNamespace],
    locator: &Locator<'_>,
    errors: &mut Vec<SchemaError>,
) -> Declarations<'r> {
    let mut decls = Declarations {
        entities: BTreeMap::new(),
        commons: BTreeMap::new(),
        actions: BTreeMap::new(),
        action_types: BTreeSet::new(),
        aliases: BTreeSet::new(),
    };
    let mut seen_namespaces: BTreeMap<&str, &Origin> = BTreeMap::new();
    for namespace in namespaces {
        let ns_name = namespace.name.as_ref().map(|name| name.text.as_str());
        if let Some(name) = &namespace.name {
            if name.text.split("::").any(|part| part == CEDAR_NAMESPACE) {
                errors.push(
                    located(
                        locator,
                        SchemaErrorKind::ReservedName,
                        &name.origin,
                        format!("namespace `{}` uses the reserved name `__cedar`", name.text),
                    )
                    .with_help(
                        "names containing `__cedar` are reserved for Cedar's built-in types",
                    ),
                );
            }
            if let Some(first) = seen_namespaces.insert(name.text.as_str(), &name.origin) {
                errors.push(
                    located(
                        locator,
                        SchemaErrorKind::DuplicateNamespace,
                        &name.origin,
                        format!("duplicate namespace `{}`", name.text),
                    )
                    .with_opt_help(
                        earlier(locator, first).map(|e| {
                            format!("{e}; put all its declarations in one `namespace` block")
                        }),
                    ),
                );
            }
        }
        for entity in &namespace.entity_types {
            let full = qualify(ns_name, &entity.name);
            if entity.name == CEDAR_NAMESPACE {
                errors.push(
                    located(
                        locator,
                        SchemaErrorKind::ReservedName,
                        &entity.origin,
                        "`__cedar` cannot be the name of an entity type",
                    )
                    .with_help(
                        "names containing `__cedar` are reserved for Cedar's built-in types",
                    ),
                );
            } else if entity.name == ACTION {
                errors.push(
                    located(locator, SchemaErrorKind::ActionEntityTypeDeclared, &entity.origin, format!("entity type `{full}` cannot be declared"))
                        .with_help("`Action` is the entity type of the namespace's actions; declare actions with `action` instead"),
                );
            } else if let Some(first) = decls.entities.get(&full) {
                errors.push(
                    located(
                        locator,
                        SchemaErrorKind::DuplicateDeclaration,
                        &entity.origin,
                        format!("duplicate entity type `{full}`"),
                    )
                    .with_opt_help(earlier(locator, &first.decl.origin)),
                );
            } else {
                decls.entities.insert(
                    full,
                    InNamespace {
                        namespace: ns_name,
                        decl: entity,
                    },
                );
            }
        }
        for common in &namespace.common_types {
            let full = qualify(ns_name, &common.name);
            if common.name == CEDAR_NAMESPACE {
                errors.push(
                    located(
                        locator,
                        SchemaErrorKind::ReservedName,
                        &common.origin,
                        "`__cedar` cannot be the name of a common type",
                    )
                    .with_help(
                        "names containing `__cedar` are reserved for Cedar's built-in types",
                    ),
                );
            } else if RESERVED_COMMON_TYPE_NAMES.contains(&common.name.as_str()) {
                errors.push(
                    located(locator, SchemaErrorKind::ReservedName, &common.origin, format!("`{}` cannot be the name of a common type", common.name))
                        .with_help("`Bool`, `Boolean`, `Entity`, `Extension`, `Long`, `Record`, `Set` and `String` are reserved type keywords"),
                );
            } else if let Some(first) = decls.commons.get(&full) {
                errors.push(
                    located(
                        locator,
                        SchemaErrorKind::DuplicateDeclaration,
                        &common.origin,
                        format!("duplicate common type `{full}`"),
                    )
                    .with_opt_help(earlier(locator, &first.decl.origin)),
                );
            } else {
                decls.commons.insert(
                    full,
                    InNamespace {
                        namespace: ns_name,
                        decl: common,
                    },
                );
            }
        }
        let action_type = qualify(ns_name, ACTION);
        for action in &namespace.actions {
            let id = ActionId::new(action_type.clone(), action.name.clone());
            if let Some(first) = decls.actions.get(&id) {
                errors.push(
                    located(
                        locator,
                        SchemaErrorKind::DuplicateDeclaration,
                        &action.origin,
                        format!("duplicate action `{id}`"),
                    )
                    .with_opt_help(earlier(locator, &first.decl.origin)),
                );
            } else {
                decls.actions.insert(
                    id,
                    InNamespace {
                        namespace: ns_name,
                        decl: action,
                    },
                );
            }
        }
        if !namespace.actions.is_empty() {
            decls.action_types.insert(action_type);
        }
    }
    check_shadowing(&decls, locator, errors);
    for name in BUILTIN_NAMES {
        if !decls.entities.contains_key(name) && !decls.commons.contains_key(name) {
            decls.aliases.insert(name);
        }
    }
    decls
}

/// RFC 70: declarations in a namespace may not shadow those in the empty namespace.
fn check_shadowing(decls: &Declarations<'_>, locator: &Locator<'_>, errors: &mut Vec<SchemaError>) {
    let unqualified_types: BTreeSet<&str> = decls
        .entities
        .iter()
        .filter(|(_, d)| d.namespace.is_none())
        .map(|(name, _)| name.as_str())
        .chain(
            decls
                .commons
                .iter()
                .filter(|(_, d)| d.namespace.is_none())
                .map(|(name, _)| name.as_str()),
        )
        .collect();
    let qualified = decls
        .entities
        .iter()
        .filter(|(_, d)| d.namespace.is_some())
        .map(|(name, d)| (name, &d.decl.origin))
        .chain(
            decls
                .commons
                .iter()
                .filter(|(_, d)| d.namespace.is_some())
                .map(|(name, d)| (name, &d.decl.origin)),
        );
    for (name, origin) in qualified {
        let base = basename(name);
        if unqualified_types.contains(base) {
            errors.push(
                located(locator, SchemaErrorKind::Shadowing, origin, format!("`{name}` shadows `{base}`, which is declared outside any namespace"))
                    .with_help("Cedar does not allow a namespace to redeclare a type name of the empty namespace; rename one of them"),
            );
        }
    }
    let unqualified_actions: BTreeSet<&str> = decls
        .actions
        .iter()
        .filter(|(_, d)| d.namespace.is_none())
        .map(|(id, _)| id.id.as_str())
        .collect();
    for (id, action) in decls.actions.iter().filter(|(_, d)| d.namespace.is_some()) {
        if unqualified_actions.contains(id.id.as_str()) {
            errors.push(
                located(
                    locator,
                    SchemaErrorKind::Shadowing,
                    &action.decl.origin,
                    format!("`{id}` shadows `{}`, which is declared outside any namespace", ActionId::new(ACTION, id.id.clone())),
                )
                .with_help("Cedar does not allow a namespace to redeclare an action of the empty namespace; rename one of them"),
            );
        }
    }
}

impl<'r> Resolver<'r, '_> {
    fn take_errors(&mut self) -> Result<(), SchemaErrors> {
        match SchemaErrors::from_vec(tidy(std::mem::take(&mut self.errors))) {
            None => Ok(()),
            Some(errors) => Err(errors),
        }
    }

    fn error(
        &self,
        kind: SchemaErrorKind,
        origin: &Origin,
        message: impl Into<String>,
    ) -> SchemaError {
        located(self.locator, kind, origin, message)
    }

    fn is_common(&self, name: &str) -> Option<Target> {
        if self.decls.commons.contains_key(name) {
            return Some(Target::Common(SmolStr::new(name)));
        }
        if let Some(rest) = name.strip_prefix("__cedar::") {
            return Builtin::from_basename(rest).map(Target::Builtin);
        }
        if self.decls.aliases.contains(name) {
            return Builtin::from_basename(name).map(Target::Builtin);
        }
        None
    }

    fn is_entity(&self, name: &str) -> bool {
        self.decls.entities.contains_key(name) || self.decls.action_types.contains(name)
    }

    /// The names a reference may mean, most preferred first.
    fn candidates(name: &RawName, namespace: Option<&str>) -> Vec<SmolStr> {
        match namespace {
            Some(namespace) if !name.is_qualified() => {
                vec![qualify(Some(namespace), &name.text), name.text.clone()]
            }
            _ => vec![name.text.clone()],
        }
    }

    /// Resolves a type reference written in `namespace`.
    fn lookup(
        &self,
        name: &RawName,
        namespace: Option<&str>,
        kind: RefKind,
    ) -> Result<Target, SchemaError> {
        let candidates = Self::candidates(name, namespace);
        for candidate in &candidates {
            if kind.allows_common()
                && let Some(target) = self.is_common(candidate)
            {
                return Ok(target);
            }
            if kind.allows_entity() && self.is_entity(candidate) {
                return Ok(Target::Entity(candidate.clone()));
            }
        }
        Err(self.undefined(name, namespace, kind, &candidates))
    }

    /// The error for a reference that resolves to nothing, with the most useful hint.
    fn undefined(
        &self,
        name: &RawName,
        namespace: Option<&str>,
        kind: RefKind,
        candidates: &[SmolStr],
    ) -> SchemaError {
        let error = self.error(
            SchemaErrorKind::UndefinedType,
            &name.origin,
            format!("undefined {} `{}`", kind.noun(), name.text),
        );
        // Declared, but as the other kind of type.
        for candidate in candidates {
            let as_common = self.is_common(candidate).is_some();
            let as_entity = self.is_entity(candidate);
            if kind == RefKind::Entity && as_common {
                return error.with_help(format!(
                    "`{candidate}` is a common type, but only entity types can be used here"
                ));
            }
            if kind == RefKind::Common && as_entity {
                return error.with_help(format!(
                    "`{candidate}` is an entity type, but a common type is needed here (a record type for a context or shape)"
                ));
            }
        }
        if name.text == "Boolean" && kind.allows_common() {
            return error.with_help("the boolean type is written `Bool` (`Boolean` is its name in the JSON format's `\"type\"` field)");
        }
        // Declared in another namespace under the same basename.
        let same_basename: Vec<&str> = self
            .visible_names(kind)
            .into_iter()
            .filter(|full| {
                full.contains("::")
                    && basename(full) == basename(&name.text)
                    && *full != name.text.as_str()
            })
            .collect();
        if let Some(full) = closest_full(&same_basename) {
            return error.with_help(format!("did you mean `{full}`?"));
        }
        // A likely typo.
        let local: Vec<&str> = if name.is_qualified() {
            self.visible_names(kind)
        } else {
            let prefix = namespace.map(|ns| format!("{ns}::"));
            self.visible_names(kind)
                .into_iter()
                .filter_map(|full| match &prefix {
                    Some(prefix)
                        if full.starts_with(prefix.as_str())
                            && !full.get(prefix.len()..).unwrap_or("").contains("::") =>
                    {
                        full.get(prefix.len()..)
                    }
                    _ if !full.contains("::") => Some(full),
                    _ => None,
                })
                .collect()
        };
        if let Some(help) = did_you_mean(&name.text, local) {
            return error.with_help(help);
        }
        match candidates {
            [qualified, unqualified] => error.with_help(format!(
                "neither `{qualified}` nor `{unqualified}` is declared as {}",
                match kind {
                    RefKind::CommonOrEntity => "a common or entity type",
                    RefKind::Common => "a common type",
                    RefKind::Entity => "an entity type",
                }
            )),
            _ => error,
        }
    }

    /// Every name a reference of `kind` could resolve to, fully qualified.
    fn visible_names(&self, kind: RefKind) -> Vec<&str> {
        let mut names = Vec::new();
        if kind.allows_common() {
            names.extend(self.decls.commons.keys().map(SmolStr::as_str));
            names.extend(self.decls.aliases.iter().copied());
        }
        if kind.allows_entity() {
            names.extend(self.decls.entities.keys().map(SmolStr::as_str));
            names.extend(self.decls.action_types.iter().map(SmolStr::as_str));
        }
        names
    }

    /// Resolves an entity-type reference that must name a declared entity type (not an action
    /// type): parents, principal and resource types.
    fn lookup_declared_entity(
        &self,
        name: &RawName,
        namespace: Option<&str>,
        role: &str,
    ) -> Result<SmolStr, SchemaError> {
        match self.lookup(name, namespace, RefKind::Entity)? {
            Target::Entity(full) if self.decls.entities.contains_key(&full) => Ok(full),
            Target::Entity(full) => Err(self
                .error(SchemaErrorKind::UndefinedType, &name.origin, format!("undeclared entity type `{full}` used as {role}"))
                .with_help(format!("`{full}` is the entity type of actions; only entity types declared with `entity` can be used as {role}"))),
            Target::Common(full) => Err(self.error(SchemaErrorKind::UndefinedType, &name.origin, format!("undefined entity type `{full}`"))),
            Target::Builtin(_) => Err(self.error(SchemaErrorKind::UndefinedType, &name.origin, format!("undefined entity type `{}`", name.text))),
        }
    }

    /// Resolves a parent action written in `namespace`.
    fn lookup_action(
        &self,
        parent: &RawActionRef,
        namespace: Option<&str>,
    ) -> Result<ActionId, SchemaError> {
        let written_ty = parent.ty.as_ref().map_or(ACTION, |ty| ty.text.as_str());
        let qualified = written_ty.contains("::");
        let candidates: Vec<SmolStr> = match namespace {
            Some(namespace) if !qualified => vec![
                qualify(Some(namespace), written_ty),
                SmolStr::new(written_ty),
            ],
            _ => vec![SmolStr::new(written_ty)],
        };
        for candidate in &candidates {
            let id = ActionId::new(candidate.clone(), parent.id.clone());
            if self.decls.actions.contains_key(&id) {
                return Ok(id);
            }
        }
        let written = ActionId::new(written_ty, parent.id.clone());
        let error = self.error(
            SchemaErrorKind::UndefinedAction,
            &parent.origin,
            format!("undefined action `{written}`"),
        );
        let preferred = candidates
            .first()
            .cloned()
            .unwrap_or_else(|| SmolStr::new(written_ty));
        let same_type: Vec<&str> = self
            .decls
            .actions
            .keys()
            .filter(|id| id.ty == preferred || candidates.contains(&id.ty))
            .map(|id| id.id.as_str())
            .collect();
        if let Some(similar) = closest(&parent.id, same_type) {
            return Err(error.with_help(format!(
                "did you mean `{}`?",
                ActionId::new(written_ty, similar)
            )));
        }
        let elsewhere: Vec<&ActionId> = self
            .decls
            .actions
            .keys()
            .filter(|id| id.id == parent.id)
            .collect();
        if let Some(other) = elsewhere.first() {
            return Err(error.with_help(format!("did you mean `{other}`?")));
        }
        Err(error.with_help("a parent action must be declared with `action` (in this namespace, the empty namespace, or with a qualified name)"))
    }

    /// Reports references in `ty` that resolve to nothing; adds common types it uses to `deps`.
    fn check_type_refs(
        &mut self,
        ty: &RawType,
        namespace: Option<&str>,
        deps: &mut BTreeSet<SmolStr>,
    ) {
        let mut stack: Vec<&RawType> = vec![ty];
        while let Some(ty) = stack.pop() {
            let (name, kind) = match &ty.kind {
                RawTypeKind::Bool
                | RawTypeKind::Long
                | RawTypeKind::String
                | RawTypeKind::Extension(_) => continue,
                RawTypeKind::Set(element) => {
                    stack.push(element);
                    continue;
                }
                RawTypeKind::Record(record) => {
                    stack.extend(record.attrs.iter().map(|attr| &attr.ty));
                    continue;
                }
                RawTypeKind::Entity(name) => (name, RefKind::Entity),
                RawTypeKind::Common(name) => (name, RefKind::Common),
                RawTypeKind::EntityOrCommon(name) => (name, RefKind::CommonOrEntity),
            };
            match self.lookup(name, namespace, kind) {
                Ok(Target::Common(full)) => {
                    deps.insert(full);
                }
                Ok(_) => {}
                Err(error) => self.errors.push(error),
            }
        }
    }

    /// Stage 2: every reference must resolve. Returns the common types each common type uses.
    fn check_references(&mut self) -> BTreeMap<SmolStr, BTreeSet<SmolStr>> {
        let commons: Vec<(SmolStr, Option<&'r str>, &'r RawCommonType)> = self
            .decls
            .commons
            .iter()
            .map(|(name, c)| (name.clone(), c.namespace, c.decl))
            .collect();
        let mut deps = BTreeMap::new();
        for (name, namespace, common) in commons {
            let mut uses = BTreeSet::new();
            self.check_type_refs(&common.ty, namespace, &mut uses);
            deps.insert(name, uses);
        }
        let entities: Vec<(Option<&'r str>, &'r RawEntityType)> = self
            .decls
            .entities
            .values()
            .map(|e| (e.namespace, e.decl))
            .collect();
        for (namespace, entity) in entities {
            if let RawEntityKind::Standard {
                parents,
                shape,
                tags,
            } = &entity.kind
            {
                for parent in parents {
                    if let Err(error) =
                        self.lookup_declared_entity(parent, namespace, "a parent type")
                    {
                        self.errors.push(error);
                    }
                }
                self.check_type_refs(shape, namespace, &mut BTreeSet::new());
                if let Some(tags) = tags {
                    self.check_type_refs(tags, namespace, &mut BTreeSet::new());
                }
            }
        }
        let actions: Vec<(Option<&'r str>, &'r RawAction)> = self
            .decls
            .actions
            .values()
            .map(|a| (a.namespace, a.decl))
            .collect();
        for (namespace, action) in actions {
            for parent in &action.member_of {
                if let Err(error) = self.lookup_action(parent, namespace) {
                    self.errors.push(error);
                }
            }
            if let Some(applies_to) = &action.applies_to {
                for (names, role) in [
                    (&applies_to.principal_types, "a principal type"),
                    (&applies_to.resource_types, "a resource type"),
                ] {
                    for name in names {
                        if let Err(error) = self.lookup_declared_entity(name, namespace, role) {
                            self.errors.push(error);
                        }
                    }
                }
                self.check_type_refs(&applies_to.context, namespace, &mut BTreeSet::new());
            }
        }
        deps
    }

    /// Stage 3: an order of the common types in which each comes after those it uses, or the
    /// error for a cycle.
    fn common_type_order(
        &self,
        deps: &BTreeMap<SmolStr, BTreeSet<SmolStr>>,
    ) -> Result<Vec<SmolStr>, SchemaErrors> {
        // Kahn's algorithm: repeatedly take the types whose dependencies are all placed.
        let mut dependents: BTreeMap<&SmolStr, Vec<&SmolStr>> = BTreeMap::new();
        let mut waiting: BTreeMap<&SmolStr, usize> = BTreeMap::new();
        for (name, uses) in deps {
            waiting.insert(name, uses.len());
            for used in uses {
                dependents.entry(used).or_default().push(name);
            }
        }
        let mut ready: Vec<&SmolStr> = waiting
            .iter()
            .filter(|(_, count)| **count == 0)
            .map(|(name, _)| *name)
            .collect();
        let mut order = Vec::with_capacity(deps.len());
        while let Some(name) = ready.pop() {
            order.push(name.clone());
            for dependent in dependents.get(name).map(Vec::as_slice).unwrap_or_default() {
                if let Some(count) = waiting.get_mut(dependent) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        ready.push(dependent);
                    }
                }
            }
        }
        if order.len() == deps.len() {
            return Ok(order);
        }
        // Some types wait forever: follow unplaced dependencies from one of them to find a cycle.
        let placed: BTreeSet<&SmolStr> = order.iter().collect();
        let Some(start) = deps.keys().find(|name| !placed.contains(name)) else {
            return Ok(order);
        };
        let mut path: Vec<&SmolStr> = vec![start];
        let mut position: BTreeMap<&SmolStr, usize> = BTreeMap::from([(start, 0)]);
        let mut current = start;
        let cycle: Vec<&SmolStr> = loop {
            let Some(next) = deps
                .get(current)
                .and_then(|uses| uses.iter().find(|used| !placed.contains(used)))
            else {
                break path.clone();
            };
            if let Some(&index) = position.get(next) {
                let mut cycle: Vec<&SmolStr> = path
                    .get(index..)
                    .map(<[&SmolStr]>::to_vec)
                    .unwrap_or_default();
                cycle.push(next);
                break cycle;
            }
            position.insert(next, path.len());
            path.push(next);
            current = next;
        };
        let first = cycle.first().copied().unwrap_or(start);
        let origin = self
            .decls
            .commons
            .get(first)
            .map_or(Origin::Unknown, |c| c.decl.origin.clone());
        let chain = cycle
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(" -> ");
        Err(SchemaErrors::one(
            self.error(
                SchemaErrorKind::CommonTypeCycle,
                &origin,
                format!("common types refer to each other in a cycle: {chain}"),
            )
            .with_help(
                "a common type cannot contain itself; use an entity type for recursive data",
            ),
        ))
    }

    /// Builds the common types in dependency order into the memo. A common type that uses one
    /// that failed is skipped (its error would only repeat the first one). Any failure stops
    /// resolution here, so later stages only see fully built common types.
    fn build_common_types(
        &mut self,
        order: &[SmolStr],
        deps: &BTreeMap<SmolStr, BTreeSet<SmolStr>>,
    ) -> Result<(), SchemaErrors> {
        let mut failed: BTreeSet<&SmolStr> = BTreeSet::new();
        for name in order {
            let Some(common) = self.decls.commons.get(name) else {
                continue;
            };
            let (namespace, decl): (Option<&'r str>, &'r RawCommonType) =
                (common.namespace, common.decl);
            let uses_failed = deps
                .get(name)
                .is_some_and(|uses| uses.iter().any(|used| failed.contains(used)));
            if uses_failed {
                failed.insert(name);
                continue;
            }
            match self.build_type(&decl.ty, namespace, 1) {
                Ok(built) => {
                    self.common_memo.insert(name.clone(), built);
                }
                Err(error) => {
                    let fatal = error.kind == SchemaErrorKind::TooLarge;
                    self.errors.push(*error);
                    failed.insert(name);
                    if fatal {
                        break;
                    }
                }
            }
        }
        self.take_errors()
    }

    fn too_large(&self, origin: &Origin) -> Box<SchemaError> {
        Box::new(
            self.error(
                SchemaErrorKind::TooLarge,
                origin,
                format!("inlining common types builds more than {MAX_INLINED_TYPE_NODES} type nodes"),
            )
            .with_help("common types that use other common types several times grow exponentially when inlined"),
        )
    }

    fn count_nodes(&mut self, nodes: usize, origin: &Origin) -> Result<(), Box<SchemaError>> {
        self.total_nodes = self.total_nodes.saturating_add(nodes);
        if self.total_nodes > MAX_INLINED_TYPE_NODES {
            return Err(self.too_large(origin));
        }
        Ok(())
    }

    /// Builds a type at nesting `level` (1 for a top-level type), inlining common types.
    fn build_type(
        &mut self,
        ty: &RawType,
        namespace: Option<&str>,
        level: usize,
    ) -> Result<Built, Box<SchemaError>> {
        let built = match &ty.kind {
            RawTypeKind::Bool => Built {
                ty: Type::Bool,
                depth: 1,
                nodes: 1,
            },
            RawTypeKind::Long => Built {
                ty: Type::Long,
                depth: 1,
                nodes: 1,
            },
            RawTypeKind::String => Built {
                ty: Type::String,
                depth: 1,
                nodes: 1,
            },
            RawTypeKind::Set(element) => {
                let element = self.build_type(element, namespace, level + 1)?;
                Built {
                    ty: Type::Set(Box::new(element.ty)),
                    depth: element.depth + 1,
                    nodes: element.nodes + 1,
                }
            }
            RawTypeKind::Record(record) => {
                if record.additional_attributes {
                    return Err(Box::new(
                        self.error(SchemaErrorKind::Unsupported, &ty.origin, "records with `additionalAttributes: true` are not supported")
                            .with_help("Cedar accepts open records only with its experimental `partial-validate` feature; remove `additionalAttributes`"),
                    ));
                }
                let mut attrs = BTreeMap::new();
                let mut depth = 1;
                let mut nodes = 1;
                for attr in &record.attrs {
                    let built = self.build_type(&attr.ty, namespace, level + 1)?;
                    depth = depth.max(built.depth + 1);
                    nodes += built.nodes;
                    // A repeated attribute name replaces the earlier one, as in Cedar.
                    attrs.insert(
                        attr.name.clone(),
                        AttrType {
                            ty: built.ty,
                            required: attr.required,
                        },
                    );
                }
                Built {
                    ty: Type::Record(RecordType {
                        attrs,
                        additional_attributes: false,
                    }),
                    depth,
                    nodes,
                }
            }
            RawTypeKind::Extension(name) => {
                if let Some(ext) = EXTENSION_TYPES
                    .iter()
                    .find(|ext| **ext == name.text.as_str())
                {
                    Built {
                        ty: Type::Extension(SmolStr::new_static(ext)),
                        depth: 1,
                        nodes: 1,
                    }
                } else {
                    let help = did_you_mean(&name.text, EXTENSION_TYPES).unwrap_or_else(|| {
                        "the extension types are `ipaddr`, `decimal`, `datetime` and `duration`"
                            .to_owned()
                    });
                    return Err(Box::new(
                        self.error(
                            SchemaErrorKind::UnknownExtension,
                            &name.origin,
                            format!("unknown extension type `{}`", name.text),
                        )
                        .with_help(help),
                    ));
                }
            }
            RawTypeKind::Entity(name)
            | RawTypeKind::Common(name)
            | RawTypeKind::EntityOrCommon(name) => {
                let kind = match &ty.kind {
                    RawTypeKind::Entity(_) => RefKind::Entity,
                    RawTypeKind::Common(_) => RefKind::Common,
                    _ => RefKind::CommonOrEntity,
                };
                match self.lookup(name, namespace, kind).map_err(Box::new)? {
                    Target::Builtin(builtin) => Built {
                        ty: builtin.to_type(),
                        depth: 1,
                        nodes: 1,
                    },
                    Target::Entity(full) => Built {
                        ty: Type::Entity(full),
                        depth: 1,
                        nodes: 1,
                    },
                    Target::Common(full) => {
                        let Some(memo) = self.common_memo.get(&full) else {
                            return Err(Box::new(self.error(
                                SchemaErrorKind::UndefinedType,
                                &name.origin,
                                format!("internal error: common type `{full}` was not built before use; please file an issue"),
                            )));
                        };
                        let (depth, nodes) = (memo.depth, memo.nodes);
                        // Count the inlined copy before making it; it is returned without the
                        // count below.
                        let total = self.total_nodes.saturating_add(nodes);
                        if total > MAX_INLINED_TYPE_NODES {
                            return Err(self.too_large(&name.origin));
                        }
                        let ty = memo.ty.clone();
                        self.total_nodes = total;
                        return self.check_depth(Built { ty, depth, nodes }, level, &name.origin);
                    }
                }
            }
        };
        self.count_nodes(1, &ty.origin)?;
        self.check_depth(built, level, &ty.origin)
    }

    /// A type of depth `built.depth` placed at nesting `level` reaches `level - 1 + depth`.
    fn check_depth(
        &self,
        built: Built,
        level: usize,
        origin: &Origin,
    ) -> Result<Built, Box<SchemaError>> {
        if level.saturating_sub(1).saturating_add(built.depth) > MAX_TYPE_DEPTH {
            return Err(Box::new(
                self.error(
                    SchemaErrorKind::TooDeep,
                    origin,
                    format!("type nesting exceeds the limit of {MAX_TYPE_DEPTH} levels once common types are inlined"),
                )
                .with_help("flatten the type; common types used inside each other add up their nesting"),
            ));
        }
        Ok(built)
    }

    /// Builds a shape or context, which must be a record type.
    fn build_record(
        &mut self,
        ty: &RawType,
        namespace: Option<&str>,
        what: &str,
    ) -> Option<RecordType> {
        match self.build_type(ty, namespace, 1) {
            Ok(Built {
                ty: Type::Record(record),
                ..
            }) => Some(record),
            Ok(Built { ty: other, .. }) => {
                let error = self
                    .error(SchemaErrorKind::NotARecord, &ty.origin, format!("{what} must be a record type, but it is `{}`", other))
                    .with_help("write a record type `{ ... }`, or name a common type that is a record type");
                self.errors.push(error);
                None
            }
            Err(error) => {
                self.errors.push(*error);
                None
            }
        }
    }

    /// Resolves declared entity types (parents, principals, resources), reporting failures.
    fn declared_entities(
        &mut self,
        names: &[RawName],
        namespace: Option<&str>,
        role: &str,
    ) -> Vec<SmolStr> {
        let mut resolved = Vec::with_capacity(names.len());
        for name in names {
            match self.lookup_declared_entity(name, namespace, role) {
                Ok(full) => resolved.push(full),
                Err(error) => self.errors.push(error),
            }
        }
        unique(resolved)
    }

    /// Stage 4: entity types and actions.
    fn build_schema(&mut self) -> Schema {
        let mut schema = Schema::default();
        let entities: Vec<(SmolStr, Option<&'r str>, &'r RawEntityType)> = self
            .decls
            .entities
            .iter()
            .map(|(name, e)| (name.clone(), e.namespace, e.decl))
            .collect();
        for (name, namespace, entity) in entities {
            if self.total_nodes > MAX_INLINED_TYPE_NODES {
                break;
            }
            let def = match &entity.kind {
                RawEntityKind::Enum(ids) => EntityTypeDef {
                    name: name.clone(),
                    parents: Vec::new(),
                    shape: RecordType::default(),
                    tags: None,
                    enum_ids: Some(unique(ids.iter().cloned())),
                },
                RawEntityKind::Standard {
                    parents,
                    shape,
                    tags,
                } => {
                    let parents = self.declared_entities(parents, namespace, "a parent type");
                    let shape = self.build_record(
                        shape,
                        namespace,
                        &format!("the shape of entity type `{name}`"),
                    );
                    let tags = match tags {
                        None => None,
                        Some(tags) => match self.build_type(tags, namespace, 1) {
                            Ok(built) => Some(built.ty),
                            Err(error) => {
                                self.errors.push(*error);
                                None
                            }
                        },
                    };
                    EntityTypeDef {
                        name: name.clone(),
                        parents,
                        shape: shape.unwrap_or_default(),
                        tags,
                        enum_ids: None,
                    }
                }
            };
            schema.entity_types.insert(name, def);
        }
        let actions: Vec<(ActionId, Option<&'r str>, &'r RawAction)> = self
            .decls
            .actions
            .iter()
            .map(|(id, a)| (id.clone(), a.namespace, a.decl))
            .collect();
        for (id, namespace, action) in actions {
            if self.total_nodes > MAX_INLINED_TYPE_NODES {
                break;
            }
            let mut member_of = Vec::with_capacity(action.member_of.len());
            for parent in &action.member_of {
                match self.lookup_action(parent, namespace) {
                    Ok(parent_id) => member_of.push(parent_id),
                    Err(error) => self.errors.push(error),
                }
            }
            let applies_to = match &action.applies_to {
                None => None,
                Some(applies_to) => {
                    let principal_types = self.declared_entities(
                        &applies_to.principal_types,
                        namespace,
                        "a principal type",
                    );
                    let resource_types = self.declared_entities(
                        &applies_to.resource_types,
                        namespace,
                        "a resource type",
                    );
                    let context = self.build_record(
                        &applies_to.context,
                        namespace,
                        &format!("the context of action `{id}`"),
                    );
                    // An action with no principal or no resource type applies to no request;
                    // Cedar treats that exactly like a missing `appliesTo` (and writes a missing
                    // one as empty lists when translating to JSON), so both become `None`.
                    (!principal_types.is_empty() && !resource_types.is_empty()).then(|| AppliesTo {
                        principal_types,
                        resource_types,
                        context: context.unwrap_or_default(),
                    })
                }
            };
            schema.actions.insert(
                id.clone(),
                ActionDef {
                    id,
                    member_of: unique(member_of),
                    applies_to,
                },
            );
        }
        schema
    }
}

/// The candidate with the shortest name (then alphabetical), for "did you mean" among exact
/// basename matches.
fn closest_full<'a>(names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .copied()
        .min_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)))
}

/// Errors without repeats (a declaration of several names, such as `entity A, B in [X];`, would
/// otherwise report a bad `X` once per name), those located in text in source order.
fn tidy(errors: Vec<SchemaError>) -> Vec<SchemaError> {
    let mut seen = BTreeSet::new();
    let mut errors: Vec<SchemaError> = errors
        .into_iter()
        .filter(|error| {
            seen.insert((
                error.message.clone(),
                error.location.as_ref().map(ToString::to_string),
            ))
        })
        .collect();
    errors.sort_by_key(|error| match error.location {
        Some(SchemaLocation::Text { start, .. }) => start,
        _ => usize::MAX,
    });
    errors
}

/// `a -> b -> c`, eliding the middle of very long chains.
fn describe_chain(links: Vec<String>) -> String {
    const SHOWN: usize = 6;
    if links.len() <= 2 * SHOWN {
        return links.join(" -> ");
    }
    let head = links
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(" -> ");
    let tail = links
        .iter()
        .skip(links.len() - SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(" -> ");
    format!("{head} -> ... ({} more) -> {tail}", links.len() - 2 * SHOWN)
}

/// The items without repeats, in first-seen order.
fn unique<T: Ord + Clone>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// Stage 5: the action hierarchy must be acyclic. Depth-first search with an explicit stack.
fn check_action_cycles(schema: &Schema, resolver: &Resolver<'_, '_>) -> Result<(), SchemaErrors> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        InProgress,
        Done,
    }
    let mut marks: BTreeMap<&ActionId, Mark> = BTreeMap::new();
    for root in schema.actions.keys() {
        if marks.contains_key(root) {
            continue;
        }
        // Each frame: an action and how many of its parents have been visited.
        let mut stack: Vec<(&ActionId, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::InProgress);
        while let Some((action, next_parent)) = stack.last().copied() {
            let parents = schema
                .actions
                .get(action)
                .map(|def| def.member_of.as_slice())
                .unwrap_or_default();
            let Some(parent) = parents.get(next_parent) else {
                marks.insert(action, Mark::Done);
                stack.pop();
                continue;
            };
            if let Some(frame) = stack.last_mut() {
                frame.1 += 1;
            }
            match marks.get(parent) {
                Some(Mark::Done) => {}
                Some(Mark::InProgress) => {
                    let start = stack.iter().position(|(id, _)| *id == parent).unwrap_or(0);
                    let mut chain: Vec<String> = stack
                        .get(start..)
                        .unwrap_or_default()
                        .iter()
                        .map(|(id, _)| format!("`{id}`"))
                        .collect();
                    chain.push(format!("`{parent}`"));
                    let origin = resolver
                        .decls
                        .actions
                        .get(parent)
                        .map_or(Origin::Unknown, |a| a.decl.origin.clone());
                    return Err(SchemaErrors::one(
                        resolver
                            .error(
                                SchemaErrorKind::ActionCycle,
                                &origin,
                                format!(
                                    "actions are members of each other in a cycle: {}",
                                    describe_chain(chain)
                                ),
                            )
                            .with_help("an action group cannot contain itself, directly or through other groups"),
                    ));
                }
                None => {
                    marks.insert(parent, Mark::InProgress);
                    stack.push((parent, 0));
                }
            }
        }
    }
    Ok(())
}
