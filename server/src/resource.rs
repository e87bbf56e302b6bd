//! A provisioned resource (a team) as the resource routes answer it, and
//! the services it may be created for or moved to.

use protocol::credential::Credential;
use protocol::provisioning::{AccessConfiguration, ResourceAnswer, ResourceComplete};

use crate::db::Team;
use crate::error::ApiError;
use crate::stripe::Door;

/// The services a resource may be created for; `analytics` by default.
pub const SERVICES: [&str; 3] = ["analytics", "free", "pay_as_you_go"];

/// The service that needs payment credentials.
pub const PAID_SERVICE: &str = "pay_as_you_go";

/// The refusal of an update without a `service_id`.
pub const SERVICE_ID_REQUIRED: &str = "service_id is required";

/// The refusal of the paid plan (no payment credentials are ever presented).
pub const PAYMENT_CREDENTIALS_REQUIRED: &str = "Payment credentials required for paid plan";

/// The resource `team` at `host`, with the personal key minted with it
/// (never on a read-back).
pub fn answer(host: &str, team: &Team, key: Option<&Credential>) -> ResourceAnswer {
    ResourceAnswer {
        status: "complete".into(),
        id: team.id.to_string(),
        service_id: team.service_id.clone(),
        complete: ResourceComplete {
            access_configuration: AccessConfiguration {
                api_key: team.api_token.clone(),
                host: host.to_owned(),
                personal_api_key: key.map(|key| key.expose().to_owned()),
            },
        },
    }
}

/// The service a resource is created for (`analytics` when none is
/// named). The refusal's message is redacted where every message is, on
/// its way out.
pub fn service_to_create(service_id: Option<&str>) -> Result<&str, ApiError> {
    let service = service_id.unwrap_or("analytics");
    match SERVICES.contains(&service) {
        true => Ok(service),
        false => Err(ApiError::UnknownService(format!(
            "Unknown service_id {service:?}; known: {}",
            SERVICES.join(", ")
        ))),
    }
}

/// The service a resource may move to: a known one, and not the paid plan
/// (no payment credentials are ever presented here). An unknown one is
/// worded as the door words it.
pub fn service_to_move_to<'a>(
    door: Door<'_>,
    service_id: Option<&'a str>,
) -> Result<&'a str, ApiError> {
    match service_id.filter(|service| !service.is_empty()) {
        None => Err(ApiError::MissingServiceId(SERVICE_ID_REQUIRED.into())),
        Some(service) if !SERVICES.contains(&service) => Err(unknown_service(door, service)),
        Some(PAID_SERVICE) => Err(ApiError::RequiresPaymentCredentials(
            PAYMENT_CREDENTIALS_REQUIRED.into(),
        )),
        Some(service) => Ok(service),
    }
}

/// The refusal of a service not in [`SERVICES`], in the door's words.
pub fn unknown_service(door: Door<'_>, service: &str) -> ApiError {
    let shown = protocol::credential::redact_secrets(service);
    ApiError::UnknownService(match door {
        Door::Agentic => format!(
            "Unknown service_id {shown:?}; known: {}",
            SERVICES.join(", ")
        ),
        Door::Stripe(stripe) => stripe.messages.unknown_service.replace("{service}", &shown),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::StripeNamespace;

    #[test]
    fn service_table() {
        let policy = crate::policy::ScopePolicy::load("current").unwrap();
        let stripe = StripeNamespace {
            messages: policy.stripe_namespace().unwrap().clone(),
            access_seconds: policy.stripe.access_seconds,
        };
        let cases: [(Option<&str>, Result<&str, &str>); 6] = [
            (Some("free"), Ok("free")),
            (Some("analytics"), Ok("analytics")),
            (None, Err("missing_service_id")),
            (Some(""), Err("missing_service_id")),
            (Some("bogus"), Err("unknown_service")),
            (Some("pay_as_you_go"), Err("requires_payment_credentials")),
        ];
        for (service, expected) in cases {
            for door in [Door::Agentic, Door::Stripe(&stripe)] {
                let got = service_to_move_to(door, service).map_err(|error| error.code());
                assert_eq!(got, expected, "{service:?} at {door:?}");
            }
        }
        let stripe_wording = service_to_move_to(Door::Stripe(&stripe), Some("bogus")).unwrap_err();
        assert_eq!(stripe_wording.to_string(), "Unknown service_id: bogus");
    }

    /// If this fails, a resource is created for a service that does not
    /// exist, or a request naming none is refused instead of getting
    /// `analytics`.
    #[test]
    fn a_resource_is_created_for_a_known_service_analytics_by_default() {
        assert_eq!(service_to_create(None).unwrap(), "analytics");
        assert_eq!(service_to_create(Some("free")).unwrap(), "free");
        assert_eq!(
            service_to_create(Some("bogus")).unwrap_err().to_string(),
            "Unknown service_id \"bogus\"; known: analytics, free, pay_as_you_go"
        );
    }
}
