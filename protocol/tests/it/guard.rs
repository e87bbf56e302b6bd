//! The protocol guard: the wire contract of today (the OpenAPI document
//! `docs/openapi.json` and every message's JSON Schema) against the frozen
//! baseline in `fixtures/contracts/baseline/`. If this fails, a client
//! built against the baseline stops understanding the server (or the other
//! way round): a path, status or property it relies on is gone, a type
//! changed, or a request now needs a field it never sends.
//!
//! Additive changes pass. A deliberate break is accepted only together with
//! a new `protocol::CONTRACT_VERSION`, then `just freeze-contract` re-freezes the
//! baseline (`FREEZE_CONTRACT=1`), which refuses to freeze a break under
//! the baseline's own version.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// Which side of the wire reads a schema: a request is read by the server,
/// a response by the client. The rules differ: a new required property
/// breaks a request, a property no longer sent breaks a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// Every breaking change from `baseline` to `current`, two OpenAPI
/// documents, each named so a reviewer can find it.
fn openapi_breaks(baseline: &Value, current: &Value) -> Vec<String> {
    let mut breaks = Vec::new();
    let empty = Map::new();
    let base_paths = baseline["paths"].as_object().unwrap_or(&empty);
    let current_paths = current["paths"].as_object().unwrap_or(&empty);
    for (path, base_item) in base_paths {
        let Some(current_item) = current_paths.get(path) else {
            breaks.push(format!("removed path {path}"));
            continue;
        };
        for (method, base_operation) in operations(base_item) {
            let upper = method.to_uppercase();
            let Some(current_operation) = current_item.get(method) else {
                breaks.push(format!("removed method {upper} {path}"));
                continue;
            };
            let at = format!("{upper} {path}");
            parameter_breaks(&at, base_operation, current_operation, &mut breaks);
            if let (Some(base_body), Some(current_body)) = (
                base_operation.pointer("/requestBody/content"),
                current_operation.pointer("/requestBody/content"),
            ) {
                content_breaks(
                    &format!("{at} request"),
                    (baseline, base_body),
                    (current, current_body),
                    Direction::Request,
                    &mut breaks,
                );
            }
            if current_operation.pointer("/requestBody/required") == Some(&json!(true))
                && base_operation.pointer("/requestBody/required") != Some(&json!(true))
            {
                breaks.push(format!("{at}: the request body became required"));
            }
            let base_responses = base_operation["responses"].as_object().unwrap_or(&empty);
            for (status, base_response) in base_responses {
                let Some(current_response) = current_operation["responses"].get(status) else {
                    breaks.push(format!("{at}: removed response status {status}"));
                    continue;
                };
                if let (Some(base_content), Some(current_content)) = (
                    base_response.get("content"),
                    current_response.get("content"),
                ) {
                    content_breaks(
                        &format!("{at} {status} response"),
                        (baseline, base_content),
                        (current, current_content),
                        Direction::Response,
                        &mut breaks,
                    );
                }
            }
        }
    }
    breaks
}

/// Every breaking change between two JSON Schema documents of one message;
/// the direction comes from the message's name.
fn message_breaks(name: &str, baseline: &Value, current: &Value) -> Vec<String> {
    let mut breaks = Vec::new();
    let mut visited = BTreeSet::new();
    schema_breaks(
        name,
        (baseline, baseline),
        (current, current),
        message_direction(name),
        &mut visited,
        &mut breaks,
    );
    breaks
}

/// Messages a program receives from a client are requests; the rest
/// (answers, errors, events) are responses.
fn message_direction(name: &str) -> Direction {
    let requests = ["Request", "Input", "Advance", "FaultSettings"];
    if requests.iter().any(|suffix| name.ends_with(suffix)) {
        Direction::Request
    } else {
        Direction::Response
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operations(item: &Value) -> Vec<(&'static str, &Value)> {
    METHODS
        .iter()
        .filter_map(|method| item.get(*method).map(|operation| (*method, operation)))
        .collect()
}

/// A new required parameter (header, query, path) breaks every caller.
fn parameter_breaks(at: &str, base: &Value, current: &Value, breaks: &mut Vec<String>) {
    let required = |operation: &Value| -> BTreeSet<(String, String)> {
        operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|parameter| parameter["required"] == json!(true))
            .map(|parameter| {
                (
                    parameter["in"].as_str().unwrap_or("?").to_owned(),
                    parameter["name"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect()
    };
    let before = required(base);
    for (place, name) in required(current).difference(&before) {
        breaks.push(format!("{at}: new required {place} parameter {name}"));
    }
}

/// Media types of a body: one removed is a break; schemas of those kept
/// are compared.
fn content_breaks(
    at: &str,
    (base_root, base_content): (&Value, &Value),
    (current_root, current_content): (&Value, &Value),
    direction: Direction,
    breaks: &mut Vec<String>,
) {
    let empty = Map::new();
    for (media, base_media) in base_content.as_object().unwrap_or(&empty) {
        let Some(current_media) = current_content.get(media) else {
            breaks.push(format!("{at}: removed media type {media}"));
            continue;
        };
        if let (Some(base_schema), Some(current_schema)) =
            (base_media.get("schema"), current_media.get("schema"))
        {
            // Name the component too, so a reviewer can open it.
            let named = match base_schema.get("$ref").and_then(Value::as_str) {
                Some(reference) => format!("{at} {}", reference.rsplit('/').next().unwrap_or("")),
                None => at.to_owned(),
            };
            let mut visited = BTreeSet::new();
            schema_breaks(
                &named,
                (base_root, base_schema),
                (current_root, current_schema),
                direction,
                &mut visited,
                breaks,
            );
        }
    }
}

/// Follows `$ref` (a JSON pointer into the same document) until a schema.
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return schema;
        };
        match reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
        {
            Some(target) => schema = target,
            None => return schema,
        }
    }
    schema
}

/// The set of JSON types a schema allows (`type` as a string or a list),
/// or `None` when it does not say.
fn types(schema: &Value) -> Option<BTreeSet<String>> {
    match schema.get("type")? {
        Value::String(one) => Some([one.clone()].into()),
        Value::Array(many) => Some(
            many.iter()
                .filter_map(|kind| kind.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

fn names(schema: &Value, key: &str) -> BTreeSet<String> {
    schema[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect()
}

/// The recursive comparison of two schemas at `at`.
fn schema_breaks(
    at: &str,
    (base_root, base): (&Value, &Value),
    (current_root, current): (&Value, &Value),
    direction: Direction,
    visited: &mut BTreeSet<(String, String)>,
    breaks: &mut Vec<String>,
) {
    // A recursive type is compared once per pair of references.
    let references = (
        base.get("$ref").and_then(Value::as_str).unwrap_or(""),
        current.get("$ref").and_then(Value::as_str).unwrap_or(""),
    );
    if !references.0.is_empty()
        && !visited.insert((references.0.to_owned(), references.1.to_owned()))
    {
        return;
    }
    let base = resolve(base_root, base);
    let current = resolve(current_root, current);

    if let (Some(before), Some(after)) = (types(base), types(current)) {
        // A request may accept more, a response may send less; anything
        // else is a change of type.
        let compatible = match direction {
            Direction::Request => before.is_subset(&after),
            Direction::Response => after.is_subset(&before),
        };
        if !compatible {
            breaks.push(format!(
                "{at}: changed type from {} to {}",
                show(&before),
                show(&after)
            ));
        }
    }

    if let Some(base_values) = base.get("enum").and_then(Value::as_array) {
        let current_values = current.get("enum").and_then(Value::as_array);
        for value in base_values {
            if current_values.is_some_and(|values| !values.contains(value)) {
                breaks.push(format!("{at}: removed enum value {value}"));
            }
        }
    }
    if let (Some(before), Some(after)) = (base.get("const"), current.get("const")) {
        if before != after {
            breaks.push(format!(
                "{at}: removed enum value {before} (const now {after})"
            ));
        }
    }

    let empty = Map::new();
    let base_properties = base["properties"].as_object().unwrap_or(&empty);
    let current_properties = current["properties"].as_object().unwrap_or(&empty);
    let base_required = names(base, "required");
    let current_required = names(current, "required");
    for (name, base_property) in base_properties {
        let here = format!("{at}.{name}");
        match current_properties.get(name) {
            None if direction == Direction::Response => {
                breaks.push(format!("{here}: removed or renamed property"));
            }
            None => {}
            Some(current_property) => schema_breaks(
                &here,
                (base_root, base_property),
                (current_root, current_property),
                direction,
                visited,
                breaks,
            ),
        }
        if direction == Direction::Response
            && base_required.contains(name)
            && current_properties.contains_key(name)
            && !current_required.contains(name)
        {
            breaks.push(format!("{here}: no longer always present (was required)"));
        }
    }
    if direction == Direction::Request {
        for name in current_required.difference(&base_required) {
            breaks.push(format!("{at}.{name}: new required request property"));
        }
    }

    for key in ["items", "additionalProperties"] {
        if let (Some(before), Some(after)) = (base.get(key), current.get(key)) {
            if before.is_object() && after.is_object() {
                schema_breaks(
                    &format!("{at}[]"),
                    (base_root, before),
                    (current_root, after),
                    direction,
                    visited,
                    breaks,
                );
            }
        }
    }

    for key in ["oneOf", "anyOf", "allOf"] {
        let (Some(before), Some(after)) = (
            base.get(key).and_then(Value::as_array),
            current.get(key).and_then(Value::as_array),
        ) else {
            continue;
        };
        if after.len() < before.len() && key != "allOf" {
            breaks.push(format!(
                "{at}: {key} lost variants ({} to {})",
                before.len(),
                after.len()
            ));
        }
        for (index, (left, right)) in before.iter().zip(after).enumerate() {
            schema_breaks(
                &format!("{at}<{key} {index}>"),
                (base_root, left),
                (current_root, right),
                direction,
                visited,
                breaks,
            );
        }
    }
}

fn show(kinds: &BTreeSet<String>) -> String {
    kinds.iter().cloned().collect::<Vec<_>>().join("|")
}

// ---- The real contract against the baseline. ----

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn baseline_dir() -> PathBuf {
    workspace().join("fixtures/contracts/baseline")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// Today's contract: the OpenAPI document and each message's schema.
fn current_contract() -> (Value, Vec<(String, Value)>) {
    let openapi = read_json(&workspace().join("docs/openapi.json"));
    let messages = protocol::schema::all()
        .into_iter()
        .map(|message| (message.name, message.schema))
        .collect();
    (openapi, messages)
}

/// Every break of today's contract against the baseline.
fn contract_breaks() -> Vec<String> {
    let baseline = baseline_dir();
    let (openapi, messages) = current_contract();
    let mut breaks: Vec<String> =
        openapi_breaks(&read_json(&baseline.join("openapi.json")), &openapi)
            .into_iter()
            .map(|text| format!("openapi: {text}"))
            .collect();
    let mut frozen: Vec<PathBuf> = std::fs::read_dir(baseline.join("schemas"))
        .expect("fixtures/contracts/baseline/schemas exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    frozen.sort();
    for path in frozen {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        match messages.iter().find(|(current, _)| *current == name) {
            None => breaks.push(format!("schema {name}: removed message")),
            Some((_, schema)) => breaks.extend(
                message_breaks(&name, &read_json(&path), schema)
                    .into_iter()
                    .map(|text| format!("schema {text}")),
            ),
        }
    }
    breaks
}

fn frozen_version() -> String {
    std::fs::read_to_string(baseline_dir().join("CONTRACT_VERSION"))
        .expect("fixtures/contracts/baseline/CONTRACT_VERSION exists")
        .trim()
        .to_owned()
}

/// Writes the baseline from today's contract (`just freeze-contract`).
fn freeze() {
    let dir = baseline_dir();
    let (_, messages) = current_contract();
    let schemas = dir.join("schemas");
    let _ = std::fs::remove_dir_all(&schemas);
    std::fs::create_dir_all(&schemas).unwrap();
    let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap() + "\n";
    // The document verbatim, so the baseline reads as a copy of it.
    std::fs::copy(
        workspace().join("docs/openapi.json"),
        dir.join("openapi.json"),
    )
    .unwrap();
    for (name, schema) in &messages {
        std::fs::write(schemas.join(format!("{name}.json")), pretty(schema)).unwrap();
    }
    std::fs::write(
        dir.join("CONTRACT_VERSION"),
        format!("{}\n", protocol::CONTRACT_VERSION),
    )
    .unwrap();
}

#[test]
fn the_contract_has_no_breaking_change_since_the_frozen_baseline() {
    if std::env::var_os("FREEZE_CONTRACT").is_some()
        && !baseline_dir().join("openapi.json").exists()
    {
        freeze();
        return;
    }
    let version = frozen_version();
    let breaks = contract_breaks();
    if std::env::var_os("FREEZE_CONTRACT").is_some() {
        assert!(
            breaks.is_empty() || version != protocol::CONTRACT_VERSION,
            "refusing to freeze breaking changes under the same contract version {version}; \
             bump protocol::CONTRACT_VERSION first:\n  - {}",
            breaks.join("\n  - ")
        );
        freeze();
        return;
    }
    assert_eq!(
        version,
        protocol::CONTRACT_VERSION,
        "protocol::CONTRACT_VERSION is {} but the baseline froze {version}: run `just freeze-contract` and commit the new baseline",
        protocol::CONTRACT_VERSION
    );
    assert!(
        breaks.is_empty(),
        "the wire contract broke clients of contract {version} ({} change(s)); \
         undo them, or bump protocol::CONTRACT_VERSION and run `just freeze-contract`:\n  - {}",
        breaks.len(),
        breaks.join("\n  - ")
    );
}

// ---- The rules, on small synthetic documents. ----

/// An OpenAPI document with one `POST /things` whose request and 200
/// response are the `Request` and `Answer` components.
fn document(request: Value, answer: Value, extra_status: bool) -> Value {
    let mut responses = json!({
        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}}}
    });
    if extra_status {
        responses["404"] = json!({"description": "missing"});
    }
    json!({
        "paths": {"/things": {"post": {
            "parameters": [{"name": "API-Version", "in": "header", "required": true}],
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Request"}}}},
            "responses": responses
        }}},
        "components": {"schemas": {"Request": request, "Answer": answer}}
    })
}

fn base_request() -> Value {
    json!({"type": "object", "required": ["email"], "properties": {
        "email": {"type": "string"},
        "scopes": {"type": ["array", "null"], "items": {"type": "string"}},
        "region": {"type": "string", "enum": ["us", "eu"]}
    }})
}

fn base_answer() -> Value {
    json!({"type": "object", "required": ["id", "kind"], "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["oauth", "error"]},
        "count": {"type": "integer"}
    }})
}

/// One row: how the current document differs, and the breaks expected
/// (empty: additive, passes).
fn check(change: fn(&mut Value), expected: &[&str]) {
    let baseline = document(base_request(), base_answer(), true);
    let mut current = baseline.clone();
    change(&mut current);
    assert_eq!(openapi_breaks(&baseline, &current), expected);
}

#[test]
fn the_openapi_rules_table() {
    // Additive changes pass.
    check(|_| {}, &[]);
    check(
        |doc| doc["paths"]["/new"] = json!({"get": {"responses": {}}}),
        &[],
    );
    check(
        |doc| doc["paths"]["/things"]["get"] = json!({"responses": {}}),
        &[],
    );
    check(
        |doc| doc["paths"]["/things"]["post"]["responses"]["409"] = json!({}),
        &[],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Answer"]["properties"]["extra"] =
                json!({"type": "string"})
        },
        &[],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Request"]["properties"]["note"] =
                json!({"type": ["string", "null"]})
        },
        &[],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Request"]["properties"]["region"]["enum"] =
                json!(["us", "eu", "apac"])
        },
        &[],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Request"]["properties"]["email"]["type"] =
                json!(["string", "null"])
        },
        &[],
    );
    check(
        |doc| doc["components"]["schemas"]["Answer"]["required"] = json!(["id", "kind", "count"]),
        &[],
    );
    // Breaking changes, each named.
    check(
        |doc| {
            doc["paths"].as_object_mut().unwrap().remove("/things");
        },
        &["removed path /things"],
    );
    check(
        |doc| {
            let item = doc["paths"]["/things"].as_object_mut().unwrap();
            let post = item.remove("post").unwrap();
            item.insert("put".to_owned(), post);
        },
        &["removed method POST /things"],
    );
    check(
        |doc| {
            doc["paths"]["/things"]["post"]["responses"]
                .as_object_mut()
                .unwrap()
                .remove("404");
        },
        &["POST /things: removed response status 404"],
    );
    check(
        |doc| {
            let properties = doc["components"]["schemas"]["Answer"]["properties"]
                .as_object_mut()
                .unwrap();
            let count = properties.remove("count").unwrap();
            properties.insert("total".to_owned(), count);
        },
        &["POST /things 200 response Answer.count: removed or renamed property"],
    );
    check(
        |doc| doc["components"]["schemas"]["Answer"]["properties"]["id"]["type"] = json!("integer"),
        &["POST /things 200 response Answer.id: changed type from string to integer"],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Answer"]["properties"]["id"]["type"] =
                json!(["string", "null"])
        },
        &["POST /things 200 response Answer.id: changed type from string to null|string"],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Request"]["properties"]["email"]["type"] =
                json!("integer")
        },
        &["POST /things request Request.email: changed type from string to integer"],
    );
    check(
        |doc| doc["components"]["schemas"]["Request"]["required"] = json!(["email", "scopes"]),
        &["POST /things request Request.scopes: new required request property"],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Request"]["properties"]["client"] =
                json!({"type": "string"});
            doc["components"]["schemas"]["Request"]["required"] = json!(["email", "client"]);
        },
        &["POST /things request Request.client: new required request property"],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Request"]["properties"]["region"]["enum"] = json!(["us"])
        },
        &["POST /things request Request.region: removed enum value \"eu\""],
    );
    check(
        |doc| {
            doc["components"]["schemas"]["Answer"]["properties"]["kind"]["enum"] = json!(["oauth"])
        },
        &["POST /things 200 response Answer.kind: removed enum value \"error\""],
    );
    check(
        |doc| doc["components"]["schemas"]["Answer"]["required"] = json!(["id"]),
        &["POST /things 200 response Answer.kind: no longer always present (was required)"],
    );
    check(
        |doc| {
            doc["paths"]["/things"]["post"]["parameters"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "Idempotency-Key", "in": "header", "required": true}))
        },
        &["POST /things: new required header parameter Idempotency-Key"],
    );
}

#[test]
fn the_message_schema_rules_follow_the_direction_of_the_name() {
    let defs = |inner: Value| {
        json!({"type": "object", "required": ["a"], "properties": {
            "a": {"$ref": "#/$defs/Inner"}
        }, "$defs": {"Inner": inner}})
    };
    let before = defs(json!({"type": "object", "properties": {"x": {"type": "string"}}}));
    let renamed = defs(json!({"type": "object", "properties": {"y": {"type": "string"}}}));
    assert_eq!(
        message_breaks("ThingAnswer", &before, &renamed),
        ["ThingAnswer.a.x: removed or renamed property"]
    );
    // A request that stops reading a field is not a break for its senders.
    assert!(message_breaks("ThingRequest", &before, &renamed).is_empty());
    let required =
        defs(json!({"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}}}));
    assert_eq!(
        message_breaks("ThingRequest", &before, &required),
        ["ThingRequest.a.x: new required request property"]
    );
    assert!(message_breaks("ThingAnswer", &before, &required).is_empty());
    // A tagged union that loses a variant breaks its readers.
    let union = |variants: Value| json!({"oneOf": variants});
    let two = union(json!([{"type": "object"}, {"type": "string"}]));
    let one = union(json!([{"type": "object"}]));
    assert_eq!(
        message_breaks("ThingAnswer", &two, &one),
        ["ThingAnswer: oneOf lost variants (2 to 1)"]
    );
    assert_eq!(message_direction("AccountRequest"), Direction::Request);
    assert_eq!(message_direction("TokenAnswer"), Direction::Response);
}

#[test]
fn a_recursive_schema_terminates() {
    let tree = json!({"$ref": "#/$defs/Node", "$defs": {"Node": {"type": "object", "properties": {
        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
    }}}});
    assert!(message_breaks("TreeAnswer", &tree, &tree).is_empty());
}
