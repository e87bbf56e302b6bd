//! The signup steps against the provisioning server (seed 000): account
//! request with a fresh PKCE pair, code exchange, resource provisioning.

use protocol::credential::{Credential, CredentialKind};
use protocol::oauth::{TokenAnswer, GRANT_AUTHORIZATION_CODE};
use protocol::pkce::{CodeVerifier, S256};
use protocol::provisioning::{
    AccountConfiguration, AccountRequest, AccountRequestAnswer, RequiresAuth, ResourceAnswer,
    ResourceRequest,
};
use protocol::random::RandomSource;
use protocol::{paths, API_VERSION, API_VERSION_HEADER};
use reqwest::StatusCode;

use crate::client::Http;
use crate::error::WizardError;
use crate::log::VerboseLog;
use crate::progress::Progress;

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

pub struct Signup<'a> {
    pub http: &'a Http,
    pub log: &'a VerboseLog,
    /// Shows each step (hidden for `provision`).
    pub progress: &'a Progress,
    pub random: &'a dyn RandomSource,
    /// The provisioning server's base URL.
    pub base_url: &'a str,
    pub client_id: &'a str,
    pub email: &'a str,
    pub name: Option<&'a str>,
    /// `US` or `EU`, as sent on the wire.
    pub region: &'a str,
    /// `None` omits the field, as the first signup client did.
    pub scopes: Option<Vec<String>>,
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

impl Signup<'_> {
    /// `provision`: an existing email is `email_exists` (exit 4).
    pub async fn run(&self) -> Result<Provisioned, WizardError> {
        match self.start().await? {
            Started::Provisioned(provisioned) => Ok(*provisioned),
            Started::RequiresAuth { sign_in, .. } => Err(WizardError::Provisioning {
                message: match sign_in {
                    SignIn::Link(url) => format!(
                        "{} already has a PostHog account. Sign in to continue:\n{url}",
                        self.email
                    ),
                    // The consent link's code goes to the application's
                    // registered callback, which no headless run receives.
                    SignIn::Consent { .. } => format!(
                        "{} already has a PostHog account. `provision` only creates new accounts; sign in with a browser instead: run the wizard with --signup --email {}",
                        self.email, self.email
                    ),
                },
                code: "email_exists".into(),
            }),
        }
    }

    /// `--signup`: an existing email comes back as [`Started::RequiresAuth`].
    pub async fn start(&self) -> Result<Started, WizardError> {
        let verifier = CodeVerifier::generate(self.random);
        let step = self.progress.step(format!(
            "Creating a PostHog account for {} ({} region)…",
            self.email, self.region
        ));
        let code = match self.account_request(&verifier).await? {
            AccountAnswer::Code(code) => {
                step.done(&format!("Account requested for {}", self.email));
                code
            }
            AccountAnswer::RequiresAuth(requires_auth) => {
                step.done(&format!("{} already has an account", self.email));
                self.log.line(format!(
                    "step 1: {} already has an account; interactive login",
                    self.email
                ));
                return Ok(Started::RequiresAuth {
                    sign_in: SignIn::from_answer(&requires_auth),
                    verifier,
                });
            }
        };
        let step = self
            .progress
            .step("Exchanging the code for an access token…");
        let tokens = self.exchange(&code, &verifier).await?;
        step.done("Access token received");
        let access_token = Credential::parse(&tokens.access_token).map_err(|error| {
            WizardError::Internal(format!(
                "the token endpoint sent a malformed access token: {error}"
            ))
        })?;
        self.log.line(format!(
            "step 2: access token {access_token} granted scope {:?}",
            tokens.scope
        ));
        let step = self.progress.step("Provisioning the project…");
        let resource = self.resources(&access_token).await?;
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
                        message: "the resource answer's personal_api_key is not a personal API key (phx_)".into(),
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
        self.log.line(format!(
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

    async fn account_request(&self, verifier: &CodeVerifier) -> Result<AccountAnswer, WizardError> {
        let request = AccountRequest {
            id: Some(format!("wizard_{}", self.random.uuid())),
            email: self.email.to_owned(),
            name: self.name.map(str::to_owned),
            scopes: self.scopes.clone(),
            client_id: Some(self.client_id.to_owned()),
            code_challenge: Some(verifier.challenge().as_str().to_owned()),
            code_challenge_method: Some(S256.into()),
            configuration: Some(AccountConfiguration {
                region: Some(self.region.to_owned()),
                ..AccountConfiguration::default()
            }),
            ..AccountRequest::default()
        };
        self.log.line(format!(
            "step 1: account request for {} as {}, scopes {}",
            self.email,
            self.client_id,
            match &self.scopes {
                Some(scopes) => format!("{scopes:?}"),
                None => "(field omitted)".into(),
            }
        ));
        let url = format!("{}{}", self.base_url, paths::ACCOUNT_REQUESTS);
        let builder = self
            .http
            .client()
            .post(&url)
            .header(API_VERSION_HEADER, API_VERSION)
            .json(&request);
        let answer = self
            .http
            .send(self.log, "account request", &url, builder)
            .await?;
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
        &self,
        code: &str,
        verifier: &CodeVerifier,
    ) -> Result<TokenAnswer, WizardError> {
        let url = format!("{}{}", self.base_url, paths::AGENTIC_TOKEN);
        let builder = self
            .http
            .client()
            .post(&url)
            .header(API_VERSION_HEADER, API_VERSION)
            .form(&[
                ("grant_type", GRANT_AUTHORIZATION_CODE),
                ("code", code),
                ("code_verifier", verifier.as_str()),
            ]);
        let answer = self
            .http
            .send(self.log, "code exchange", &url, builder)
            .await?;
        if !answer.status.is_success() {
            return Err(refused("code exchange", &answer));
        }
        answer.json("the token endpoint")
    }

    async fn resources(&self, token: &Credential) -> Result<ResourceAnswer, WizardError> {
        let url = format!("{}{}", self.base_url, paths::RESOURCES);
        let builder = self
            .http
            .client()
            .post(&url)
            .header(API_VERSION_HEADER, API_VERSION)
            .bearer_auth(token.expose())
            .json(&ResourceRequest::default());
        let answer = self
            .http
            .send(self.log, "resource provisioning", &url, builder)
            .await?;
        if !answer.status.is_success() {
            return Err(refused("resource provisioning", &answer));
        }
        answer.json("resource provisioning")
    }
}

enum AccountAnswer {
    Code(String),
    RequiresAuth(RequiresAuth),
}

/// A refusal from the provisioning API: 401/403 are authentication
/// failures, everything else is a provisioning refusal.
fn refused(step: &str, answer: &crate::client::Answer) -> WizardError {
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
