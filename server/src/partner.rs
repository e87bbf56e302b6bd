//! The partner behind a request, and what it may do: the checks every
//! route of the provisioning family shares (resources, rotation, removal,
//! service updates, deep links, account requests).

use crate::auth::Authenticated;
use crate::db::Application;
use crate::error::ApiError;
use crate::state::AppState;

/// The application `token` was issued to, if it still exists.
pub async fn of_token(
    state: &AppState,
    token: &Authenticated,
) -> Result<Option<Application>, ApiError> {
    match token.grant.client_id.as_deref() {
        Some(client_id) => Ok(state.db.application(client_id).await?),
        None => Ok(None),
    }
}

/// The token's partner, which must still be active and allowed to
/// provision (one read serves both the permission and the partner's
/// limits and ceiling).
pub async fn provisioning(
    state: &AppState,
    token: &Authenticated,
) -> Result<Application, ApiError> {
    may_provision(of_token(state, token).await?)
}

/// The rule of [`provisioning`], over the partner as found.
pub fn may_provision(partner: Option<Application>) -> Result<Application, ApiError> {
    match partner {
        Some(partner) if partner.active && partner.can_provision_resources => Ok(partner),
        _ => Err(ApiError::Forbidden(
            "This application may not provision or manage resources".into(),
        )),
    }
}

/// A partner that proved who it is must still be active.
pub fn active(partner: Application) -> Result<Application, ApiError> {
    match partner.active {
        true => Ok(partner),
        false => Err(ApiError::Unauthorized("Partner is deactivated".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, a deactivated partner, or one without the right to
    /// provision, manages resources with a token it still holds.
    #[test]
    fn only_an_active_provisioning_partner_may_provision() {
        let partner = |active: bool, can_provision_resources: bool| Application {
            active,
            can_provision_resources,
            ..Application::for_test("p", "")
        };
        let code = |partner: Option<Application>| may_provision(partner).map_err(|e| e.code());
        assert!(code(Some(partner(true, true))).is_ok());
        assert_eq!(code(Some(partner(false, true))), Err("forbidden"));
        assert_eq!(code(Some(partner(true, false))), Err("forbidden"));
        assert_eq!(code(None), Err("forbidden"));
        assert!(active(partner(true, false)).is_ok());
        assert_eq!(
            active(partner(false, true)).map_err(|e| e.to_string()),
            Err("Partner is deactivated".to_owned())
        );
    }
}
