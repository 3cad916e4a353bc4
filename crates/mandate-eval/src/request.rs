//! Requests from JSON, in the format of `mandate authorize` and Cedar's integration tests:
//! `{"principal", "action", "resource", "context", "validateRequest"}`, each entity as
//! `{"type", "id"}`, `{"__entity": …}` or `"T::\"id\""`. With a schema, the context is read with the
//! action's declared context type, and (unless `validateRequest` is false) the request is checked
//! against the action's `appliesTo`.

use crate::authorizer::Request;
use crate::entities::{JsonError, action_uid, context_from_json, is_action_type, uid_from_json};
use crate::value::Uid;
use mandate_validate::schema::{ActionId, RecordType, Schema};

/// A request read from JSON, with the delegation chain Mandate adds.
#[derive(Clone, Debug)]
pub struct ParsedRequest {
    /// The request.
    pub request: Request,
    /// `on_behalf_of`: the principals the agent acts for, nearest first.
    pub on_behalf_of: Vec<Uid>,
}

/// Reads a request object.
///
/// # Errors
/// A missing or malformed field, or (with a schema and validation on) a request the schema does
/// not allow.
pub fn request_from_json(
    v: &serde_json::Value,
    schema: Option<&Schema>,
) -> Result<ParsedRequest, JsonError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err("$", "a request must be a JSON object"))?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "principal"
                | "action"
                | "resource"
                | "context"
                | "validateRequest"
                | "on_behalf_of"
                | "description"
                | "decision"
                | "reason"
                | "errors"
        ) {
            return Err(err(&format!("$.{key}"), &format!("unexpected field `{key}` in request"))
                .with_help("a request has `principal`, `action`, `resource`, `context`, and optionally `validateRequest` and `on_behalf_of`"));
        }
    }
    let field = |name: &str| {
        obj.get(name)
            .ok_or_else(|| err("$", &format!("the request has no `{name}`")))
    };
    let principal = uid_from_json(field("principal")?, "$.principal")?;
    let action = uid_from_json(field("action")?, "$.action")?;
    let resource = uid_from_json(field("resource")?, "$.resource")?;
    let validate = match obj.get("validateRequest") {
        None => true,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err(err("$.validateRequest", "expected `true` or `false`")),
    };
    let mut on_behalf_of = Vec::new();
    if let Some(chain) = obj.get("on_behalf_of") {
        let items = chain
            .as_array()
            .ok_or_else(|| err("$.on_behalf_of", "expected an array of entities"))?;
        for (i, item) in items.iter().enumerate() {
            on_behalf_of.push(uid_from_json(item, format!("$.on_behalf_of[{i}]"))?);
        }
    }
    request_from_parts(
        RequestParts {
            principal,
            action,
            resource,
            context: obj.get("context"),
            on_behalf_of,
            validate,
        },
        schema,
    )
}

/// A request whose entities are already uids (as the bindings build them), with its context
/// still in JSON so the schema can type it.
#[derive(Debug)]
pub struct RequestParts<'a> {
    /// The principal.
    pub principal: Uid,
    /// The action.
    pub action: Uid,
    /// The resource.
    pub resource: Uid,
    /// The context object; `None` is an empty context.
    pub context: Option<&'a serde_json::Value>,
    /// The delegation chain.
    pub on_behalf_of: Vec<Uid>,
    /// Whether to check the request against the schema (Cedar's `validateRequest`).
    pub validate: bool,
}

/// Checks a request given as parts against the schema and types its context, exactly as
/// [`request_from_json`] does after reading the uids.
///
/// # Errors
/// As [`request_from_json`].
pub fn request_from_parts(
    parts: RequestParts<'_>,
    schema: Option<&Schema>,
) -> Result<ParsedRequest, JsonError> {
    let RequestParts {
        principal,
        action,
        resource,
        context,
        on_behalf_of,
        validate,
    } = parts;
    let context_type = check_request_scope(&principal, &action, &resource, validate, schema)?;
    let context = match context {
        Some(c) => context_from_json(c, context_type, &"$.context")?,
        None => context_from_json(
            &serde_json::Value::Object(serde_json::Map::new()),
            context_type,
            &"$.context",
        )?,
    };
    Ok(ParsedRequest {
        request: Request {
            principal,
            action,
            resource,
            context,
        },
        on_behalf_of,
    })
}

/// The checks [`request_from_parts`] makes before it types the context (with a schema and
/// `validate`: the action is declared, applies to the principal's and resource's types, enumerated
/// ids), returning the action's declared context type (with a schema, whatever `validate`), for a
/// caller that types the context itself (e.g. with
/// [`context_from_scalars`](crate::entities::context_from_scalars)).
///
/// # Errors
/// As [`request_from_parts`], for the uids.
pub fn check_request_scope<'s>(
    principal: &Uid,
    action: &Uid,
    resource: &Uid,
    validate: bool,
    schema: Option<&'s Schema>,
) -> Result<Option<&'s RecordType>, JsonError> {
    let action_def = schema.and_then(|s| {
        s.actions.get(&ActionId {
            ty: action.ty.clone(),
            id: action.id.clone(),
        })
    });
    if let (Some(schema), true) = (schema, validate) {
        let Some(def) = action_def else {
            let mut e = err(
                "$.action",
                &format!("action `{action}` is not declared in the schema"),
            );
            let names: Vec<String> = schema
                .actions
                .keys()
                .map(|a| action_uid(a).to_string())
                .collect();
            if let Some(s) = mandate_syntax::diagnostics::suggest(
                &action.to_string(),
                names.iter().map(String::as_str),
            ) {
                e = e.with_help(&format!("did you mean `{s}`?"));
            }
            return Err(e);
        };
        let Some(applies) = &def.applies_to else {
            return Err(err(
                "$.action",
                &format!("action `{action}` does not apply to any principal or resource"),
            ));
        };
        if !applies.principal_types.contains(&principal.ty) {
            return Err(err(
                "$.principal",
                &format!(
                    "action `{action}` does not apply to principals of type `{}`",
                    principal.ty
                ),
            )
            .with_help(&format!(
                "it applies to: {}",
                list(&applies.principal_types)
            )));
        }
        if !applies.resource_types.contains(&resource.ty) {
            return Err(err(
                "$.resource",
                &format!(
                    "action `{action}` does not apply to resources of type `{}`",
                    resource.ty
                ),
            )
            .with_help(&format!("it applies to: {}", list(&applies.resource_types))));
        }
        for (what, uid) in [("principal", principal), ("resource", resource)] {
            if let Some(def) = schema.entity_types.get(uid.ty.as_str())
                && let Some(ids) = &def.enum_ids
                && !ids.contains(&uid.id)
            {
                return Err(err(
                    &format!("$.{what}"),
                    &format!("`{uid}` is not one of the enumerated ids of `{}`", uid.ty),
                ));
            }
        }
        let _ = is_action_type(&action.ty);
    }
    Ok(action_def
        .and_then(|d| d.applies_to.as_ref())
        .map(|a| &a.context))
}

fn list(items: &[smol_str::SmolStr]) -> String {
    if items.is_empty() {
        "nothing".into()
    } else {
        items
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn err(path: &str, message: &str) -> JsonError {
    JsonError {
        path: path.to_string(),
        message: message.to_string(),
        help: None,
    }
}

trait WithHelp {
    fn with_help(self, help: &str) -> Self;
}

impl WithHelp for JsonError {
    fn with_help(mut self, help: &str) -> Self {
        self.help = Some(help.to_string());
        self
    }
}
