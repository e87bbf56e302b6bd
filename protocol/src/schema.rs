//! JSON Schemas of every wire message, from the one source of schemas
//! (utoipa's `ToSchema` derives, which the server's OpenAPI document will
//! reuse).
//!
//! Each schema is a self-contained JSON Schema 2020-12 document: the
//! message's own schema with its dependencies under `$defs`. The snapshot
//! test in `tests/it/schema.rs` holds one file per message, so a change to
//! any wire type shows up in review as a schema diff.

use serde_json::{json, Value};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::{admin, error, gateway, oauth, posthog, provisioning, responses, wizard};

/// One wire message and its JSON Schema.
pub struct MessageSchema {
    pub name: String,
    pub schema: Value,
}

/// Every wire message, in a stable order.
pub fn all() -> Vec<MessageSchema> {
    vec![
        // Error envelopes (section 2).
        of::<error::PlainError>(),
        of::<error::AccountRequestError>(),
        of::<error::ResourceError>(),
        of::<error::OAuthError>(),
        of::<error::DetailError>(),
        of::<error::PostHogError>(),
        of::<error::ErrorText>(),
        of::<error::AccountRequestFailure>(),
        of::<error::ResourceFailure>(),
        of::<error::OAuthFailure>(),
        // Provisioning (section 4).
        of::<provisioning::AccountRequest>(),
        of::<provisioning::AccountRequestAnswer>(),
        of::<provisioning::ResourceRequest>(),
        of::<provisioning::ResourceAnswer>(),
        of::<provisioning::UpdateServiceRequest>(),
        of::<provisioning::RotateRequest>(),
        of::<provisioning::RemovedAnswer>(),
        of::<provisioning::DeepLinkRequest>(),
        of::<provisioning::DeepLinkAnswer>(),
        of::<provisioning::LimitsRequest>(),
        of::<provisioning::LimitsAnswer>(),
        of::<provisioning::HealthAnswer>(),
        of::<provisioning::ServicesAnswer>(),
        // Tokens, discovery, introspection (sections 4-6).
        of::<oauth::TokenRequest>(),
        of::<oauth::TokenAnswer>(),
        of::<oauth::AuthorizationServerMetadata>(),
        of::<oauth::AuthorizeParams>(),
        of::<oauth::IntrospectionRequest>(),
        of::<oauth::IntrospectionAnswer>(),
        // PostHog API subset (section 5).
        of::<posthog::Me>(),
        of::<posthog::Project>(),
        of::<posthog::HealthIssues>(),
        of::<posthog::GatewayTokenRequest>(),
        of::<posthog::GatewayTokenAnswer>(),
        // Gateway (section 7).
        of::<gateway::MessagesRequest>(),
        of::<gateway::MessagesResponse>(),
        of::<gateway::StreamEvent>(),
        of::<gateway::WriteInput>(),
        of::<gateway::EditInput>(),
        of::<gateway::ReadInput>(),
        of::<gateway::ReadRange>(),
        of::<gateway::EditOptions>(),
        of::<gateway::GlobInput>(),
        of::<gateway::SetEnvValuesInput>(),
        of::<gateway::PackageManagers>(),
        of::<gateway::CountTokensAnswer>(),
        of::<gateway::ReadyAnswer>(),
        of::<gateway::AnthropicError>(),
        of::<gateway::MintRequest>(),
        of::<gateway::MintAnswer>(),
        // The Responses API of the wizard's pi harness (section 7).
        of::<responses::ResponsesRequest>(),
        of::<responses::ResponseObject>(),
        of::<responses::ResponsesEvent>(),
        // Wizard output (section 9).
        of::<wizard::ProvisionOutput>(),
        of::<wizard::WizardErrorOutput>(),
        // Admin routes (section 10).
        of::<admin::Journal>(),
        of::<admin::ClockAnswer>(),
        of::<admin::ClockAdvance>(),
        of::<admin::StateSummary>(),
        of::<admin::FaultSettings>(),
        of::<admin::Held>(),
    ]
}

/// The JSON Schema of `T`, with its dependencies under `$defs`.
pub fn of<T: ToSchema>() -> MessageSchema {
    let mut dependencies: Vec<(String, RefOr<Schema>)> = Vec::new();
    T::schemas(&mut dependencies);
    let mut defs = serde_json::Map::new();
    for (name, schema) in dependencies {
        defs.insert(
            name,
            to_json_schema(serde_json::to_value(schema).expect("schema")),
        );
    }
    let mut root = to_json_schema(serde_json::to_value(T::schema()).expect("schema"));
    let name = T::name().into_owned();
    if let Value::Object(map) = &mut root {
        let mut document = serde_json::Map::new();
        document.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        document.insert("title".into(), json!(name));
        document.extend(std::mem::take(map));
        if !defs.is_empty() {
            document.insert("$defs".into(), Value::Object(defs));
        }
        root = Value::Object(document);
    }
    MessageSchema { name, schema: root }
}

/// OpenAPI 3.1 schema objects are JSON Schema; only references differ.
fn to_json_schema(value: Value) -> Value {
    match value {
        Value::String(text) if text.starts_with("#/components/schemas/") => {
            Value::String(text.replacen("#/components/schemas/", "#/$defs/", 1))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(to_json_schema).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, to_json_schema(value)))
                .collect(),
        ),
        other => other,
    }
}
