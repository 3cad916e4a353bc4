//! Every Cedar schema in the conformance corpus (`shared/conformance/cedar`: `corpus-tests/*.cedarschema`
//! and `sample-data/**/*.cedarschema`) must load, as it does in Cedar. Also checks that the JSON
//! format gives the same model as the Cedar format for hand-written schemas.

use std::path::Path;

use mandate_test_support::{Shared, files_with_suffix, shared_subdir};
use mandate_validate::schema::{ActionId, Schema, Type};

/// Loads every schema file under `dir`, returning the number loaded and the failures.
fn load_all(dir: &Path) -> (usize, Vec<String>) {
    let mut loaded = 0;
    let mut failures = Vec::new();
    for path in files_with_suffix(dir, ".cedarschema") {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                failures.push(format!("{}: cannot read: {error}", path.display()));
                continue;
            }
        };
        match Schema::from_cedarschema(&text) {
            Ok(_) => loaded += 1,
            Err(errors) => failures.push(format!("{}:\n{errors}", path.display())),
        }
    }
    (loaded, failures)
}

#[test]
fn every_corpus_schema_loads() -> Result<(), String> {
    let dir = match shared_subdir("conformance/cedar")? {
        Shared::Found(dir) => dir,
        Shared::Skip => return Ok(()),
    };
    let mut total = 0;
    let mut loaded = 0;
    let mut failures = Vec::new();
    for sub in ["corpus-tests", "sample-data"] {
        let sub_dir = dir.join(sub);
        let (sub_loaded, sub_failures) = load_all(&sub_dir);
        let sub_total = sub_loaded + sub_failures.len();
        if sub_total == 0 {
            return Err(format!(
                "no `.cedarschema` files under {}",
                sub_dir.display()
            ));
        }
        #[expect(
            clippy::print_stderr,
            reason = "the summary count is the point of this test's output"
        )]
        {
            eprintln!("schema corpus: {sub}: loaded {sub_loaded} of {sub_total} schemas");
        }
        total += sub_total;
        loaded += sub_loaded;
        failures.extend(sub_failures);
    }
    #[expect(
        clippy::print_stderr,
        reason = "the summary count is the point of this test's output"
    )]
    {
        eprintln!("schema corpus: loaded {loaded} of {total} schemas");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        let shown: Vec<&String> = failures.iter().take(20).collect();
        Err(format!(
            "{} of {total} schemas failed to load; first failures:\n{}",
            failures.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        ))
    }
}

#[test]
fn corpus_models_are_fully_resolved() -> Result<(), String> {
    let dir = match shared_subdir("conformance/cedar")? {
        Shared::Found(dir) => dir,
        Shared::Skip => return Ok(()),
    };
    // Every entity type named anywhere in a loaded model must be declared (or be an action type).
    for path in files_with_suffix(&dir, ".cedarschema") {
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let Ok(schema) = Schema::from_cedarschema(&text) else {
            continue;
        };
        let known = |name: &str| {
            schema.entity_types.contains_key(name) || schema.actions.keys().any(|id| id.ty == name)
        };
        let mut stack: Vec<&Type> = Vec::new();
        for def in schema.entity_types.values() {
            for parent in &def.parents {
                if !schema.entity_types.contains_key(parent) {
                    return Err(format!("{}: undeclared parent `{parent}`", path.display()));
                }
            }
            stack.extend(def.shape.attrs.values().map(|a| &a.ty));
            stack.extend(def.tags.iter());
        }
        for def in schema.actions.values() {
            for parent in &def.member_of {
                if !schema.actions.contains_key(parent) {
                    return Err(format!(
                        "{}: undeclared parent action `{parent}`",
                        path.display()
                    ));
                }
            }
            if let Some(applies_to) = &def.applies_to {
                stack.extend(applies_to.context.attrs.values().map(|a| &a.ty));
            }
        }
        while let Some(ty) = stack.pop() {
            match ty {
                Type::Set(element) => stack.push(element),
                Type::Record(record) => stack.extend(record.attrs.values().map(|a| &a.ty)),
                Type::Entity(name) if !known(name) => {
                    return Err(format!(
                        "{}: undeclared entity type `{name}`",
                        path.display()
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The same schema in both formats, exercising namespaces, common types, tags, enums, the
/// empty namespace, cross-namespace references and action groups.
const CEDAR: &str = r#"
// Outside any namespace.
entity Tenant;
type Address = { street: String, zip?: Long };

@doc("the app")
namespace App::Core {
    type Context = { ip: ipaddr, when?: datetime, score: decimal };
    entity Group in [Tenant] = { name: String, "home address": Address };
    entity User in [Group] {
        groups: Set<Group>,
        manager?: User,
        budget: { limit: Long, spent: Long, window: duration },
    } tags Set<String>;
    entity Level enum ["low", "high"];
    action readAll;
    action "read" in readAll appliesTo {
        principal: User,
        resource: [Group, Tenant],
        context: Context,
    };
    action write in [Action::"read", "readAll"] appliesTo {
        principal: [User],
        resource: Group,
    };
}
"#;

const JSON: &str = r#"{
  "": {
    "entityTypes": { "Tenant": {} },
    "actions": {},
    "commonTypes": {
      "Address": {
        "type": "Record",
        "attributes": {
          "street": { "type": "String" },
          "zip": { "type": "Long", "required": false }
        }
      }
    }
  },
  "App::Core": {
    "annotations": { "doc": "the app" },
    "commonTypes": {
      "Context": {
        "type": "Record",
        "attributes": {
          "ip": { "type": "Extension", "name": "ipaddr" },
          "when": { "type": "EntityOrCommon", "name": "datetime", "required": false },
          "score": { "type": "decimal" }
        }
      }
    },
    "entityTypes": {
      "Group": {
        "memberOfTypes": ["Tenant"],
        "shape": {
          "type": "Record",
          "attributes": {
            "name": { "type": "String" },
            "home address": { "type": "Address" }
          }
        }
      },
      "User": {
        "memberOfTypes": ["Group"],
        "shape": {
          "type": "Record",
          "attributes": {
            "groups": { "type": "Set", "element": { "type": "Entity", "name": "Group" } },
            "manager": { "type": "Entity", "name": "App::Core::User", "required": false },
            "budget": {
              "type": "Record",
              "attributes": {
                "limit": { "type": "Long" },
                "spent": { "type": "__cedar::Long" },
                "window": { "type": "Extension", "name": "duration" }
              }
            }
          }
        },
        "tags": { "type": "Set", "element": { "type": "String" } }
      },
      "Level": { "enum": ["low", "high"] }
    },
    "actions": {
      "readAll": {},
      "read": {
        "memberOf": [{ "id": "readAll" }],
        "appliesTo": {
          "principalTypes": ["User"],
          "resourceTypes": ["Group", "Tenant"],
          "context": { "type": "Context" }
        }
      },
      "write": {
        "memberOf": [{ "id": "read", "type": "Action" }, { "id": "readAll", "type": "App::Core::Action" }],
        "appliesTo": { "principalTypes": ["User"], "resourceTypes": ["Group"] }
      }
    }
  }
}"#;

#[test]
fn both_formats_give_the_same_model() -> Result<(), String> {
    let from_cedar = Schema::from_cedarschema(CEDAR).map_err(|e| e.to_string())?;
    let from_json = Schema::from_json_str(JSON).map_err(|e| e.to_string())?;
    assert_eq!(from_cedar, from_json);
    let value: serde_json::Value = serde_json::from_str(JSON).map_err(|e| e.to_string())?;
    assert_eq!(
        Schema::from_json_value(&value).map_err(|e| e.to_string())?,
        from_cedar
    );

    let names: Vec<&str> = from_cedar.entity_types.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "App::Core::Group",
            "App::Core::Level",
            "App::Core::User",
            "Tenant"
        ]
    );
    let write = ActionId::new("App::Core::Action", "write");
    let ancestors: Vec<String> = from_cedar
        .action_ancestors(&write)
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        ancestors,
        [
            "App::Core::Action::\"read\"",
            "App::Core::Action::\"readAll\""
        ]
    );
    let group = from_cedar
        .entity_types
        .get("App::Core::Group")
        .ok_or("no Group")?;
    let address = group.shape.attrs.get("home address").ok_or("no address")?;
    assert_eq!(
        address.ty.to_string(),
        "{ \"street\": String, \"zip\"?: Long }"
    );
    Ok(())
}
