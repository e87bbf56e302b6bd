//! The signup steps against the provisioning server (seed 000): account
//! request with a fresh PKCE pair, code exchange, resource provisioning.

use protocol::credential::{Credential, CredentialKind};
use protocol::oauth::{TokenAnswer, GRANT_AUTHORIZATION_CODE};
use protocol::pkce::{CodeVerifier, S256};
use protocol::provisioning::{
    AccountConfiguration, AccountRequest, AccountRequestAnswer, RequiresAuth, ResourceAnswer,
    ResourceRequest,
};
use protocol::{paths, API_VERSION, API_VERSION_HEADER};
use reqwest::StatusCode;

use crate::client::Answer;
use crate::error::WizardError;
use crate::session::Session;

/// Everything a signup produced. The secrets stay wrapped in
/// [`Credential`], whose formatting is masked.
#[derive(Debug)]
pub struct Provisioned {
    pub access_token: Credential,
    pub granted_scope: String,
    pub organization_id: String,
    pub project_id: i64,
    pub project_api_key: String,
    pub host: String,
    /// Only in eras whose server mints one with the resource (today's does
    /// not: the access token is the credential).
    pub personal_api_key: Option<Credential>,
}

/// Whom the account is for. The server, the application (`client_id`),
/// the region and the scopes asked for come from the session's config.
#[derive(Debug, Clone, Copy)]
pub struct Applicant<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
}

/// How an account request ended well: a new account, or an existing email
/// that must sign in interactively.
#[derive(Debug)]
pub enum Started {
    Provisioned(Box<Provisioned>),
    /// The email has an account: how the person signs in, and the verifier
    /// whose challenge the account request carried.
    RequiresAuth {
        sign_in: SignIn,
        verifier: CodeVerifier,
    },
}

/// How an existing email signs in, from the shape of `requires_auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The older eras' `/oauth/authorize` link: it takes the wizard's
    /// loopback `redirect_uri` and `state`, and usually the account
    /// request's challenge.
    Link(String),
    /// Today's consent link (`/api/agentic/authorize?state=…`): approving
    /// it sends the code to the application's registered callback, never to
    /// this run's listener, so the wizard signs in with its own login
    /// instead, asking for `scope` (the link's, when it names one).
    Consent { url: String, scope: Option<String> },
}

impl SignIn {
    pub fn from_answer(requires_auth: &RequiresAuth) -> SignIn {
        match requires_auth {
            RequiresAuth::Redirect { redirect, .. } => SignIn::Link(redirect.url.clone()),
            RequiresAuth::Consent { url } => {
                let scope = reqwest::Url::parse(url).ok().and_then(|parsed| {
                    parsed
                        .query_pairs()
                        .find(|(key, value)| key == "scope" && !value.trim().is_empty())
                        .map(|(_, value)| value.into_owned())
                });
                SignIn::Consent {
                    url: url.clone(),
                    scope,
                }
            }
        }
    }
}

/// `provision`: a new account or nothing; an existing email is
/// `email_exists` (exit 4).
pub async fn new_account(
    session: &Session,
    applicant: Applicant<'_>,
) -> Result<Provisioned, WizardError> {
    let email = applicant.email;
    match start(session, applicant).await? {
            Started::Provisioned(provisioned) => Ok(*provisioned),
            Started::RequiresAuth { sign_in, .. } => Err(WizardError::Provisioning {
                message: match sign_in {
                    SignIn::Link(url) => format!(
                        "{email} already has a PostHog account. Sign in to continue:\n{url}"
                    ),
                    // The consent link's code goes to the application's
                    // registered callback, which no headless run receives.
                    SignIn::Consent { .. } => format!(
                        "{email} already has a PostHog account. `provision` only creates new accounts; sign in with a browser instead: run the wizard with --signup --email {email}"
                    ),
                },
                code: "email_exists".into(),
            }),
        }
}

/// `--signup`: the account request, the code exchange and the resource;
/// an existing email comes back as [`Started::RequiresAuth`].
pub async fn start(session: &Session, applicant: Applicant<'_>) -> Result<Started, WizardError> {
    let email = applicant.email;
    let progress = &session.progress;
    let verifier = CodeVerifier::generate(&*session.random);
    let step = progress.step(format!(
        "Creating a PostHog account for {email} ({} region)…",
        session.config.region().upper()
    ));
    let code = match account_request(session, applicant, &verifier).await? {
        AccountAnswer::Code(code) => {
            step.done(&format!("Account requested for {email}"));
            code
        }
        AccountAnswer::RequiresAuth(requires_auth) => {
            step.done(&format!("{email} already has an account"));
            session.log.line(format!(
                "step 1: {email} already has an account; interactive login"
            ));
            return Ok(Started::RequiresAuth {
                sign_in: SignIn::from_answer(&requires_auth),
                verifier,
            });
        }
    };
    let step = progress.step("Exchanging the code for an access token…");
    let tokens = exchange(session, &code, &verifier).await?;
    step.done("Access token received");
    let access_token = Credential::parse(&tokens.access_token).map_err(|error| {
        WizardError::Internal(format!(
            "the token endpoint sent a malformed access token: {error}"
        ))
    })?;
    session.log.line(format!(
        "step 2: access token {access_token} granted scope {:?}",
        tokens.scope
    ));
    let step = progress.step("Provisioning the project…");
    let resource = resources(session, &access_token).await?;
    step.done("Project provisioned");
    let configuration = resource.complete.access_configuration;
    // A personal key is optional (the server mints one only where its
    // era does); one that is there must be a personal key.
    let personal_api_key = match configuration.personal_api_key.as_deref() {
        None => None,
        Some(presented) => Some(
            Credential::parse(presented)
                .ok()
                .filter(|key| key.kind() == CredentialKind::PersonalApiKey)
                .ok_or_else(|| WizardError::Provisioning {
                    message:
                        "the resource answer's personal_api_key is not a personal API key (phx_)"
                            .into(),
                    code: "provisioning_failed".into(),
                })?,
        ),
    };
    let project_id = resource.id.parse().map_err(|_| {
        WizardError::Internal(format!(
            "the resource id {:?} is not a project id",
            resource.id
        ))
    })?;
    session.log.line(format!(
        "step 3: project {project_id}, project key {}, host {}, personal key {}",
        configuration.api_key,
        configuration.host,
        personal_api_key
            .as_ref()
            .map_or_else(|| "none".to_owned(), Credential::masked)
    ));
    Ok(Started::Provisioned(Box::new(Provisioned {
        access_token,
        granted_scope: tokens.scope,
        organization_id: tokens.account.map(|account| account.id).unwrap_or_default(),
        project_id,
        project_api_key: configuration.api_key,
        host: configuration.host,
        personal_api_key,
    })))
}

async fn account_request(
    session: &Session,
    applicant: Applicant<'_>,
    verifier: &CodeVerifier,
) -> Result<AccountAnswer, WizardError> {
    let config = &session.config;
    // `None` omits the field, as the first signup client did.
    let scopes = config.scopes.field();
    let request = AccountRequest {
        id: Some(format!("wizard_{}", session.random.uuid())),
        email: applicant.email.to_owned(),
        name: applicant.name.map(str::to_owned),
        scopes: scopes.clone(),
        client_id: Some(config.client_id().to_owned()),
        code_challenge: Some(verifier.challenge().as_str().to_owned()),
        code_challenge_method: Some(S256.into()),
        configuration: Some(AccountConfiguration {
            region: Some(config.region().upper().to_owned()),
            ..AccountConfiguration::default()
        }),
        ..AccountRequest::default()
    };
    session.log.line(format!(
        "step 1: account request for {} as {}, scopes {}",
        applicant.email,
        config.client_id(),
        match &scopes {
            Some(scopes) => format!("{scopes:?}"),
            None => "(field omitted)".into(),
        }
    ));
    let url = format!("{}{}", config.server_url(), paths::ACCOUNT_REQUESTS);
    let builder = session
        .client()
        .post(&url)
        .header(API_VERSION_HEADER, API_VERSION)
        .json(&request);
    let answer = session.send("account request", &url, builder).await?;
    if !answer.status.is_success() {
        return Err(refused("account request", &answer));
    }
    match answer.json::<AccountRequestAnswer>("the account request")? {
        AccountRequestAnswer::Oauth { oauth, .. } => Ok(AccountAnswer::Code(oauth.code)),
        AccountRequestAnswer::RequiresAuth { requires_auth, .. } => {
            Ok(AccountAnswer::RequiresAuth(requires_auth))
        }
        AccountRequestAnswer::Error { error, .. } => Err(WizardError::Provisioning {
            message: format!(
                "the account request was refused: {} ({})",
                error.message, error.code
            ),
            code: error.code,
        }),
    }
}

async fn exchange(
    session: &Session,
    code: &str,
    verifier: &CodeVerifier,
) -> Result<TokenAnswer, WizardError> {
    let url = format!("{}{}", session.config.server_url(), paths::AGENTIC_TOKEN);
    let builder = session
        .client()
        .post(&url)
        .header(API_VERSION_HEADER, API_VERSION)
        .form(&[
            ("grant_type", GRANT_AUTHORIZATION_CODE),
            ("code", code),
            ("code_verifier", verifier.as_str()),
        ]);
    let answer = session.send("code exchange", &url, builder).await?;
    if !answer.status.is_success() {
        return Err(refused("code exchange", &answer));
    }
    answer.json("the token endpoint")
}

async fn resources(session: &Session, token: &Credential) -> Result<ResourceAnswer, WizardError> {
    let url = format!("{}{}", session.config.server_url(), paths::RESOURCES);
    let builder = session
        .client()
        .post(&url)
        .header(API_VERSION_HEADER, API_VERSION)
        .bearer_auth(token.expose())
        .json(&ResourceRequest::default());
    let answer = session.send("resource provisioning", &url, builder).await?;
    if !answer.status.is_success() {
        return Err(refused("resource provisioning", &answer));
    }
    answer.json("resource provisioning")
}

enum AccountAnswer {
    Code(String),
    RequiresAuth(RequiresAuth),
}

/// A refusal from the provisioning API: 401/403 are authentication
/// failures, everything else is a provisioning refusal.
fn refused(step: &str, answer: &Answer) -> WizardError {
    let code = answer
        .code()
        .unwrap_or_else(|| "provisioning_failed".into());
    let message = format!(
        "The {step} was refused ({}): {} ({code})",
        answer.status,
        answer.message()
    );
    match answer.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => WizardError::Auth(message),
        _ => WizardError::Provisioning { message, code },
    }
}
