//! `GET /api/agentic/provisioning/health` and `…/services` (hmac partners),
//! and the same under the Stripe namespace (`crate::stripe`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use protocol::provisioning::{
    ComponentPricing, HealthAnswer, PaidPricing, PricingOption, Service, ServicePricing,
    ServicesAnswer,
};

use crate::error::{ApiError, PlainRefusal};
use crate::http::check_api_version;
use crate::partner;
use crate::state::AppState;
use crate::stripe::{verify_signature, StripeNamespace};

/// Liveness for orchestrators (signed GET).
#[utoipa::path(
    get,
    path = "/api/agentic/provisioning/health",
    tag = "provisioning",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::HealthAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
    )
)]
pub async fn health(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<HealthAnswer>, PlainRefusal> {
    signed(&state, &headers).await?;
    Ok(Json(health_answer()))
}

/// Liveness in the Stripe namespace: the signature is checked before the
/// API-Version.
#[utoipa::path(
    get,
    path = "/api/partners/stripe/provisioning/health",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::HealthAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
        (status = 404, description = "The era does not serve the Stripe namespace", body = protocol::error::PlainError),
    )
)]
pub async fn stripe_health(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<HealthAnswer>, PlainRefusal> {
    stripe.signed(&state, &headers, b"").await?;
    Ok(Json(health_answer()))
}

fn health_answer() -> HealthAnswer {
    HealthAnswer {
        status: "ok".into(),
        supported_versions: vec![protocol::API_VERSION.into()],
    }
}

/// The services a resource may be created for (signed GET); one page, so
/// `next_cursor` is absent.
#[utoipa::path(
    get,
    path = "/api/agentic/provisioning/services",
    tag = "provisioning",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::ServicesAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
    )
)]
pub async fn services(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ServicesAnswer>, PlainRefusal> {
    signed(&state, &headers).await?;
    Ok(Json(services_answer()))
}

/// The Stripe namespace's catalogue: `free`, `pay_as_you_go`, then the
/// deployable `analytics`, priced by its parent plan.
#[utoipa::path(
    get,
    path = "/api/partners/stripe/provisioning/services",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::ServicesAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
        (status = 404, description = "The era does not serve the Stripe namespace", body = protocol::error::PlainError),
    )
)]
pub async fn stripe_services(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ServicesAnswer>, PlainRefusal> {
    stripe.signed(&state, &headers, b"").await?;
    Ok(Json(stripe_services_answer()))
}

fn services_answer() -> ServicesAnswer {
    let service = |id: &str, kind: &str, name: &str| Service {
        id: id.into(),
        kind: kind.into(),
        name: name.into(),
        description: None,
        categories: None,
        pricing: None,
        allowed_updates: None,
    };
    // One page: `next_cursor` is omitted, never an empty string.
    ServicesAnswer {
        data: vec![
            service("analytics", "deployable", "PostHog product analytics"),
            service("free", "plan", "Free"),
            service("pay_as_you_go", "plan", "Pay as you go"),
        ],
        next_cursor: None,
    }
}

/// A GET signed by an hmac partner over the empty body.
async fn signed(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    check_api_version(headers)?;
    let signature = headers
        .get(protocol::signature::HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| ApiError::InvalidSignature("Stripe-Signature header is required".into()))?;
    partner::active(verify_signature(state, signature, b"").await?)?;
    Ok(())
}

/// Every service of the Stripe catalogue is in these categories.
pub const STRIPE_CATEGORIES: [&str; 4] = ["analytics", "feature_flags", "ai", "observability"];

/// The analytics service's description. The real server builds it from
/// billing's product list (with a fixed fallback); billing is not
/// modelled, so ours is fixed.
pub const ANALYTICS_DESCRIPTION: &str = "A PostHog project: product and web analytics, session replay, feature flags, experiments, error tracking and more.";

fn stripe_services_answer() -> ServicesAnswer {
    let strings = |list: &[&str]| list.iter().map(|item| (*item).to_owned()).collect();
    let freeform = |text: &str| PaidPricing {
        kind: "freeform".into(),
        freeform: text.into(),
    };
    let pricing = |kind: &str| ServicePricing {
        kind: kind.into(),
        paid: None,
        component: None,
    };
    let service = |id: &str, kind: &str, name: &str, description: &str| Service {
        id: id.into(),
        kind: kind.into(),
        name: name.into(),
        description: Some(description.into()),
        categories: Some(strings(&STRIPE_CATEGORIES)),
        pricing: None,
        allowed_updates: None,
    };
    let free = Service {
        pricing: Some(pricing("free")),
        allowed_updates: Some(strings(&["pay_as_you_go"])),
        ..service(
            "free",
            "plan",
            "Free",
            "Free: every PostHog product within its free allowance; no card needed.",
        )
    };
    let pay_as_you_go = Service {
        pricing: Some(ServicePricing {
            paid: Some(freeform(
                "$0/mo base; pay per use beyond each product's free allowance. Rates: https://posthog.com/pricing",
            )),
            ..pricing("paid")
        }),
        allowed_updates: Some(strings(&["free"])),
        ..service(
            "pay_as_you_go",
            "plan",
            "Pay as you go",
            "Pay as you go: every PostHog product, billed by usage, no minimum.",
        )
    };
    let analytics = Service {
        pricing: Some(ServicePricing {
            component: Some(ComponentPricing {
                options: vec![
                    PricingOption {
                        parent_service_ids: strings(&["free"]),
                        kind: "free".into(),
                        paid: None,
                    },
                    PricingOption {
                        parent_service_ids: strings(&["pay_as_you_go"]),
                        kind: "paid".into(),
                        paid: Some(freeform("Billed by usage under the parent plan.")),
                    },
                ],
            }),
            ..pricing("component")
        }),
        // Stripe checks allowed_updates before it calls update_service.
        allowed_updates: Some(strings(&["service_ref"])),
        ..service(
            "analytics",
            "deployable",
            "PostHog product analytics",
            ANALYTICS_DESCRIPTION,
        )
    };
    ServicesAnswer {
        data: vec![free, pay_as_you_go, analytics],
        next_cursor: None,
    }
}
