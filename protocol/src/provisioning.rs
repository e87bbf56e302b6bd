//! The agentic provisioning API (protocol section 4): account requests,
//! resources, deep links, health and services.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorBody;

/// `POST /api/agentic/provisioning/account_requests`. Unknown fields are
/// ignored; `email` is the only required field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct AccountRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Absent means empty. The first signup client omitted it: that is the
    /// bug of protocol section 8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_secret: Option<String>,
    /// ISO 8601; a time in the past is `400 expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<AccountConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<Orchestrator>,
}

/// `configuration` of an account request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct AccountConfiguration {
    /// `US` or `EU` (upper case on the wire); recorded, never refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An integer or a string of digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = team_id_schema)]
    pub team_id: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
}

/// `orchestrator` of an account request (`{"type":"stripe","stripe":{…}}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Orchestrator {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe: Option<StripeOrchestrator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct StripeOrchestrator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// The answer to an account request, tagged by `type`. `id` is always a
/// string: the published wizard refuses an answer without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountRequestAnswer {
    Oauth {
        id: String,
        oauth: OAuthCode,
    },
    RequiresAuth {
        id: String,
        requires_auth: RequiresAuth,
    },
    Error {
        id: String,
        error: ErrorBody,
    },
}

impl AccountRequestAnswer {
    pub fn id(&self) -> &str {
        match self {
            AccountRequestAnswer::Oauth { id, .. }
            | AccountRequestAnswer::RequiresAuth { id, .. }
            | AccountRequestAnswer::Error { id, .. } => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthCode {
    pub code: String,
}

/// Where the person behind an existing email goes before a code is issued,
/// in one of two shapes (the era decides which the server sends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RequiresAuth {
    /// `{"type":"redirect","redirect":{"url"}}`: the older eras' sign-in
    /// link, `/oauth/authorize?…` with the account request's challenge.
    Redirect {
        #[serde(rename = "type")]
        kind: String,
        redirect: Redirect,
    },
    /// `{"url"}`: today's consent link, `/api/agentic/authorize?state=…`,
    /// naming a pending consent that keeps the account request (its
    /// challenge included) for 600 s.
    Consent { url: String },
}

impl RequiresAuth {
    /// The URL, whichever the shape.
    pub fn url(&self) -> &str {
        match self {
            RequiresAuth::Redirect { redirect, .. } => &redirect.url,
            RequiresAuth::Consent { url } => url,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Redirect {
    pub url: String,
}

/// `POST /api/agentic/provisioning/resources`: `{}` or a configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ResourceRequest {
    /// Older clients send it: `analytics` (default), `free`, `pay_as_you_go`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<ResourceConfiguration>,
    /// The orchestrator's project: each gets a team of its own (created on
    /// first use, in the organization of the token's team), the same one
    /// every time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The Stripe namespace: a prefix for the provisioned personal key's
    /// label (a string of at most 25 characters, no control or format
    /// characters; anything else is `400 invalid_label_prefix`). Kept as raw
    /// JSON so a non-string gets the contract's own message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub label_prefix: Option<serde_json::Value>,
}

/// `POST …/resources/{id}/rotate_credentials` in the Stripe namespace (an
/// empty body is `{}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct RotateRequest {
    /// As the resource request's `label_prefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub label_prefix: Option<serde_json::Value>,
}

/// `POST …/resources/{id}/update_service` (the Stripe namespace): the
/// plan or product the resource moves to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateServiceRequest {
    /// `analytics`, `free` or `pay_as_you_go`; absent is
    /// `400 missing_service_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ResourceConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    /// One of the token's `available_teams`: provisions that existing team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = team_id_schema)]
    pub team_id: Option<serde_json::Value>,
}

/// A provisioned resource: `{"status":"complete","id","service_id","complete":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceAnswer {
    pub status: String,
    /// The team id, as a string.
    pub id: String,
    pub service_id: String,
    pub complete: ResourceComplete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceComplete {
    pub access_configuration: AccessConfiguration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessConfiguration {
    /// The project's `phc_` key (public).
    pub api_key: String,
    /// The server's public URL.
    pub host: String,
    /// A fresh `phx_`, only in the answers that mint one (create, rotate),
    /// never in a read-back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_api_key: Option<String>,
}

/// `POST …/resources/{id}/remove`: `{"status":"removed","id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RemovedAnswer {
    pub status: String,
    pub id: String,
}

/// `POST /api/agentic/provisioning/deep_links`. `purpose` may be left out
/// in eras that default it to `dashboard` (protocol section 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeepLinkRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeepLinkAnswer {
    pub purpose: String,
    pub url: String,
    pub expires_at: String,
}

/// What `POST /api/agentic/provisioning/limits` reads of its request (the
/// form or JSON body, else the query): a `client_id` names a partner, and
/// proves nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LimitsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `POST /api/agentic/provisioning/limits`: the calling partner's tier and
/// the budget of every endpoint metered per partner, so a partner can pace
/// itself instead of learning its limits from `429`s. Endpoints are listed
/// by their budget names, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LimitsAnswer {
    /// `public`, `public_attested`, `jwks` or `jwks_attested`.
    pub tier: String,
    pub tier_basis: TierBasis,
    pub endpoints: std::collections::BTreeMap<String, EndpointBudget>,
}

/// What a partner's tier follows from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TierBasis {
    /// How the partner proves itself at the token endpoint (`none` for a
    /// public PKCE client).
    pub client_authentication: String,
    /// Whether the partner's organization is verified.
    pub attested: bool,
}

/// One endpoint's budget for the partner: `{"blocked":true}` (its tier may
/// not call it), `{"unlimited":true}`, or a token bucket of `burst` that
/// refills at `per_hour`, with what is left of it now (`remaining`) and
/// the seconds until it is full again (`reset`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EndpointBudget {
    Blocked {
        blocked: bool,
    },
    Unlimited {
        unlimited: bool,
    },
    Bucket {
        per_hour: i64,
        burst: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remaining: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reset: Option<i64>,
    },
}

/// `GET /api/agentic/provisioning/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthAnswer {
    pub status: String,
    pub supported_versions: Vec<String>,
}

/// `GET /api/agentic/provisioning/services`. `next_cursor` is omitted when
/// there is no next page; never an empty string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServicesAnswer {
    pub data: Vec<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    pub id: String,
    /// `deployable` or `plan`.
    pub kind: String,
    pub name: String,
    /// The rest is the Stripe namespace's catalogue (absent under
    /// `/api/agentic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<ServicePricing>,
    /// What the service may be changed to: plan ids, or `service_ref` for a
    /// deployable whose plan may change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<Vec<String>>,
}

/// How a service is priced: `free`, `paid` (with `paid`) or `component`
/// (priced by the parent plan, with `component`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServicePricing {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<PaidPricing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentPricing>,
}

/// A paid price in words (`type` `freeform`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaidPricing {
    #[serde(rename = "type")]
    pub kind: String,
    pub freeform: String,
}

/// A deployable's price under each parent plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComponentPricing {
    pub options: Vec<PricingOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PricingOption {
    pub parent_service_ids: Vec<String>,
    /// `free` or `paid`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<PaidPricing>,
}

/// `team_id` is lenient on input (an integer or a string of digits), and is
/// kept as raw JSON so that anything else gets the contract's own message
/// ("configuration.team_id must be an integer") instead of a serde error.
fn team_id_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]+$")),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("An integer or a string of digits."))
        .build()
        .into()
}
