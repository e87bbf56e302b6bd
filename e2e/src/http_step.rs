//! Runs the HTTP steps: `http`, `gateway_message` (an `http` step to the
//! gateway's messages route) and `advance_clock`. Each request is prepared
//! as plain data (method, URL, headers, the exact body bytes, a signature
//! over them), sent, and its answer checked with [`crate::step_expect`].
//! The dispatcher above masks every message: saved values and full
//! credentials never appear.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::STANDARD, Engine};
use protocol::admin::{ClockAdvance, ClockAnswer};
use protocol::paths;
use protocol::pkce::{CodeVerifier, S256};
use protocol::random::RandomSource;

use crate::answer::{excerpt, Answer};
use crate::placeholders::{saved_text, Placeholders, Saved, Substitution};
use crate::step_context::StepContext;
use crate::step_expect;
use crate::steps::{self, AdvanceClockStep, GatewayMessageStep, HttpExpect, HttpStep, Target};

/// The model named in a `gateway_message` step.
pub const GATEWAY_MESSAGE_MODEL: &str = "claude-sonnet-4-5";

/// A request ready to send: what the server will see, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub method: String,
    pub url: String,
    /// In sending order; names as written.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The PKCE verifier generated for this request, if any.
    pub verifier: Option<String>,
}

/// Runs `kind = "http"`: the request sent, its answer checked, the
/// values named in `save` saved.
pub async fn run(
    step: &HttpStep,
    context: &StepContext<'_>,
    saved: &mut Saved,
    transcript: &mut Vec<String>,
    title: &str,
) -> Result<Vec<String>> {
    let server_now = match &step.sign {
        Some(_) => Some(server_clock(context).await?),
        None => None,
    };
    let base = match step.target {
        Target::Server => context.server_url,
        Target::Gateway => context.gateway_url,
    };
    let prepared = prepare(
        step,
        base,
        context.values,
        saved,
        server_now,
        context.random,
    )?;
    let (answer, mut failures) = match step.copies {
        Some(copies) => send_copies(context.client, &prepared, copies).await?,
        None => (send(context.client, &prepared).await?, Vec::new()),
    };
    let times = step
        .copies
        .map(|copies| format!(" ×{copies}"))
        .unwrap_or_default();
    transcript.push(format!(
        "{title}: {}{times} {} {} → {} {}",
        prepared.method,
        prepared.url,
        String::from_utf8_lossy(&prepared.body),
        answer.status,
        answer.body
    ));
    if let (Some(name), Some(verifier)) = (&step.name, &prepared.verifier) {
        saved.insert(&format!("{name}.verifier"), verifier.clone());
    }
    let expect = expect_with_placeholders(&step.expect, context.values, saved)?;
    failures.extend(step_expect::check(&expect, &answer));
    if !step.save.is_empty() {
        let document = answer.json();
        for (name, pointer) in &step.save {
            match document
                .as_ref()
                .and_then(|document| document.pointer(pointer))
            {
                Some(value) => saved.insert(name, saved_text(value)),
                None => failures.push(format!(
                    "save {name}: expected a value at {pointer}, got none; body: {}",
                    excerpt(&answer.body)
                )),
            }
        }
    }
    Ok(failures)
}

/// Runs `kind = "gateway_message"`: the shorthand as an ordinary HTTP
/// step to the gateway.
pub async fn gateway_message(
    step: &GatewayMessageStep,
    context: &StepContext<'_>,
    saved: &mut Saved,
    transcript: &mut Vec<String>,
    title: &str,
) -> Result<Vec<String>> {
    run(
        &gateway_message_request(step),
        context,
        saved,
        transcript,
        title,
    )
    .await
}

/// Runs `kind = "advance_clock"`: `POST /_admin/clock` on the server.
pub async fn advance_clock(
    advance: &AdvanceClockStep,
    context: &StepContext<'_>,
    transcript: &mut Vec<String>,
    title: &str,
) -> Result<Vec<String>> {
    let url = format!("{}{}", context.server_url, paths::ADMIN_CLOCK);
    let response = context
        .client
        .post(&url)
        .bearer_auth(context.admin_token)
        .json(&ClockAdvance {
            advance_seconds: advance.seconds,
        })
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    transcript.push(format!("{title}: POST {url} → {status} {body}"));
    if !status.is_success() {
        bail!("POST {url}: expected 200, got {status}: {body}");
    }
    Ok(Vec::new())
}

/// Builds the request of an HTTP step: placeholders replaced, the body
/// serialised once, then signed over exactly those bytes (or, with
/// `tamper`, over them while other bytes are sent).
pub fn prepare(
    step: &HttpStep,
    base: &str,
    values: &Placeholders,
    saved: &Saved,
    server_now: Option<i64>,
    random: &dyn RandomSource,
) -> Result<Prepared> {
    let fill = Substitution::new(values, saved);
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut verifier = None;
    let (body, content_type) = match (&step.json, &step.form, &step.raw) {
        (Some(json), _, _) => {
            let mut json = fill.json(json)?;
            if step.pkce {
                let generated = CodeVerifier::generate(random);
                let object = json
                    .as_object_mut()
                    .context("`pkce = true` needs a JSON object body")?;
                object.insert(
                    "code_challenge".to_owned(),
                    generated.challenge().as_str().into(),
                );
                object.insert("code_challenge_method".to_owned(), S256.into());
                verifier = Some(generated.as_str().to_owned());
            }
            (
                serde_json::to_vec(&json)?,
                Some("application/json".to_owned()),
            )
        }
        (None, Some(form), _) => {
            let filled: Result<BTreeMap<String, String>> = form
                .iter()
                .map(|(key, value)| Ok((key.clone(), fill.text(value)?)))
                .collect();
            (
                serde_urlencoded::to_string(filled?)?.into_bytes(),
                Some("application/x-www-form-urlencoded".to_owned()),
            )
        }
        (None, None, Some(raw)) => (fill.text(raw)?.into_bytes(), step.content_type.clone()),
        (None, None, None) => (Vec::new(), None),
    };
    if let Some(content_type) = content_type {
        headers.push(("Content-Type".to_owned(), content_type));
    }
    if step.sends_api_version() {
        headers.push((
            protocol::API_VERSION_HEADER.to_owned(),
            protocol::API_VERSION.to_owned(),
        ));
    }
    if let Some(bearer) = &step.bearer {
        headers.push((
            "Authorization".to_owned(),
            format!("Bearer {}", fill.text(bearer)?),
        ));
    }
    if let Some(basic) = &step.basic {
        let pair = format!(
            "{}:{}",
            fill.text(&basic.user)?,
            fill.text(&basic.password)?
        );
        headers.push((
            "Authorization".to_owned(),
            format!("Basic {}", STANDARD.encode(pair)),
        ));
    }
    let mut sent = body;
    if let Some(sign) = &step.sign {
        let now = server_now.context("signing needs the server's clock")?;
        let timestamp = now + steps::parse_at(&sign.at)?;
        let mut secrets = sign
            .also
            .iter()
            .map(|secret| fill.text(secret))
            .collect::<Result<Vec<String>>>()?;
        secrets.push(fill.text(&sign.secret)?);
        let secrets: Vec<&[u8]> = secrets.iter().map(String::as_bytes).collect();
        headers.push((
            protocol::signature::HEADER.to_owned(),
            protocol::signature::header_value(&secrets, timestamp, &sent),
        ));
        if sign.tamper {
            sent = tampered(&sent);
        }
    }
    for (name, value) in &step.headers {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        headers.push((name.clone(), fill.text(value)?));
    }
    // A path that is a saved absolute URL (a deep link) is followed as it
    // is, but only on the step's own target.
    let path = fill.text(&step.path)?;
    let url = if path.starts_with('/') {
        format!("{base}{path}")
    } else if path.starts_with(base) {
        path
    } else {
        bail!("path {path:?} is neither a path nor a URL on {base}");
    };
    Ok(Prepared {
        method: step.method.clone(),
        url,
        headers,
        body: sent,
        verifier,
    })
}

/// Other bytes than those signed, still well-formed for their type: a
/// JSON object gains a field, anything else gains a trailing `&tampered=1`
/// (harmless in a form) or, when empty, becomes `tampered`.
pub fn tampered(body: &[u8]) -> Vec<u8> {
    if let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice(body) {
        object.insert("tampered".to_owned(), true.into());
        return serde_json::to_vec(&object).unwrap_or_else(|_| body.to_vec());
    }
    if body.is_empty() {
        return b"tampered".to_vec();
    }
    let mut changed = body.to_vec();
    changed.extend_from_slice(b"&tampered=1");
    changed
}

/// The `gateway_message` shorthand as an ordinary HTTP step.
pub fn gateway_message_request(message: &GatewayMessageStep) -> HttpStep {
    let mut headers = BTreeMap::new();
    if let Some(api_key) = &message.api_key {
        headers.insert("x-api-key".to_owned(), api_key.clone());
    }
    let json = serde_json::json!({
        "model": GATEWAY_MESSAGE_MODEL,
        "max_tokens": 64,
        "messages": [{
            "role": "user",
            "content": format!("framework: {}\nSet up PostHog.", message.framework),
        }],
    });
    HttpStep {
        label: message.label.clone(),
        name: None,
        method: "POST".to_owned(),
        target: Target::Gateway,
        path: paths::GATEWAY_MESSAGES.to_owned(),
        headers,
        json: Some(json),
        form: None,
        raw: None,
        content_type: None,
        api_version: Some(false),
        bearer: message.bearer.clone(),
        basic: None,
        sign: None,
        pkce: false,
        copies: None,
        expect: message.expect.clone(),
        save: message.save.clone(),
    }
}

/// The server's clock (`GET /_admin/clock`), which signatures must match.
async fn server_clock(context: &StepContext<'_>) -> Result<i64> {
    let url = format!("{}{}", context.server_url, paths::ADMIN_CLOCK);
    let response = context
        .client
        .get(&url)
        .bearer_auth(context.admin_token)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET {url}: expected 200, got {status}");
    }
    let answer: ClockAnswer = response
        .json()
        .await
        .with_context(|| format!("GET {url}: unexpected body"))?;
    Ok(answer.now)
}

async fn send(client: &reqwest::Client, prepared: &Prepared) -> Result<Answer> {
    let method = reqwest::Method::from_bytes(prepared.method.as_bytes())
        .with_context(|| format!("method {:?}", prepared.method))?;
    let mut request = client.request(method, &prepared.url);
    for (name, value) in &prepared.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .body(prepared.body.clone())
        .send()
        .await
        .with_context(|| format!("{} {}", prepared.method, prepared.url))?;
    Ok(Answer::read(response).await)
}

/// Sends `copies` copies of one request at once; the first answer, and a
/// failure for each copy answered differently.
async fn send_copies(
    client: &reqwest::Client,
    prepared: &Prepared,
    copies: u32,
) -> Result<(Answer, Vec<String>)> {
    let mut tasks = tokio::task::JoinSet::new();
    for copy in 0..copies {
        let (client, prepared) = (client.clone(), prepared.clone());
        tasks.spawn(async move { (copy, send(&client, &prepared).await) });
    }
    let mut answers = Vec::with_capacity(copies as usize);
    while let Some(joined) = tasks.join_next().await {
        let (copy, answer) = joined.context("a copy's task")?;
        answers.push((copy, answer?));
    }
    answers.sort_by_key(|(copy, _)| *copy);
    let mut answers = answers.into_iter().map(|(_, answer)| answer);
    let first = answers.next().context("no copy was sent")?;
    let failures = answers
        .enumerate()
        .filter(|(_, answer)| (answer.status, &answer.body) != (first.status, &first.body))
        .map(|(index, answer)| {
            format!(
                "copy {} of {copies} answered {} {}, the first {} {}",
                index + 2,
                answer.status,
                excerpt(&answer.body),
                first.status,
                excerpt(&first.body)
            )
        })
        .collect();
    Ok((first, failures))
}

fn expect_with_placeholders(
    expect: &HttpExpect,
    values: &Placeholders,
    saved: &Saved,
) -> Result<HttpExpect> {
    let fill = Substitution::new(values, saved);
    let mut filled = expect.clone();
    for value in filled.json.values_mut().chain(filled.json_not.values_mut()) {
        *value = fill.json(value)?;
    }
    for value in filled
        .headers
        .values_mut()
        .chain(filled.header_contains.values_mut())
        .chain(filled.body_contains.iter_mut())
        .chain(filled.body_lacks.iter_mut())
    {
        *value = fill.text(value)?;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::Step;
    use protocol::random::SeededRandom;
    use protocol::signature::{verify, SignatureError};

    const NOW: i64 = 1_775_000_000;

    fn values() -> Placeholders {
        Placeholders {
            email: "e2e-x@example.com".to_owned(),
            server: "http://127.0.0.1:1".to_owned(),
            other_server: String::new(),
            gateway: "http://127.0.0.1:2".to_owned(),
            project: "/tmp/p".to_owned(),
        }
    }

    fn step(text: &str) -> HttpStep {
        let value: toml::Value = toml::from_str(text).unwrap();
        let Step::Http(step) = value.try_into::<Step>().unwrap() else {
            panic!("not an http step")
        };
        *step
    }

    /// [`SIGNED`] with its `sign` table replaced, prepared at [`NOW`].
    fn signed_with(sign: &str, saved: &Saved) -> Prepared {
        let text = SIGNED.replace("sign = { secret = \"whsec_test_new_fake\" }", sign);
        prepare(
            &step(&text),
            "http://s",
            &values(),
            saved,
            Some(NOW),
            &SeededRandom::new(1),
        )
        .unwrap()
    }

    fn header<'a>(prepared: &'a Prepared, name: &str) -> Option<&'a str> {
        prepared
            .headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    const SIGNED: &str = r#"
kind = "http"
method = "POST"
path = "/api/agentic/provisioning/account_requests"
json = { email = "{email}", id = "req-{saved.n}" }
sign = { secret = "whsec_test_new_fake" }
"#;

    #[test]
    fn a_signature_verifies_at_the_server_time_over_the_bytes_sent() {
        let mut saved = Saved::default();
        saved.insert("n", "7".to_owned());
        let random = SeededRandom::new(1);
        let prepared = prepare(
            &step(SIGNED),
            "http://s",
            &values(),
            &saved,
            Some(NOW),
            &random,
        )
        .unwrap();
        assert_eq!(
            prepared.url,
            "http://s/api/agentic/provisioning/account_requests"
        );
        let body: serde_json::Value = serde_json::from_slice(&prepared.body).unwrap();
        assert_eq!(body["email"], "e2e-x@example.com");
        assert_eq!(body["id"], "req-7");
        assert_eq!(header(&prepared, "API-Version"), Some("0.1d"));
        assert_eq!(header(&prepared, "content-type"), Some("application/json"));
        let signature = header(&prepared, "Stripe-Signature").unwrap();
        assert!(
            signature.starts_with(&format!("t={NOW},v1=")),
            "{signature}"
        );
        let secrets: [&[u8]; 2] = [b"whsec_test_old_fake", b"whsec_test_new_fake"];
        assert_eq!(verify(signature, &prepared.body, &secrets, NOW), Ok(1));
        assert_eq!(
            verify(signature, &prepared.body, &secrets, NOW + 301),
            Err(SignatureError::OutOfTolerance)
        );
    }

    #[test]
    fn offsets_and_tampering() {
        let mut saved = Saved::default();
        saved.insert("n", "7".to_owned());
        let secrets: [&[u8]; 1] = [b"whsec_test_new_fake"];
        for (at, expected) in [
            ("now-301", Err(SignatureError::OutOfTolerance)),
            ("now+301", Err(SignatureError::OutOfTolerance)),
            ("now-300", Ok(0)),
        ] {
            let prepared = signed_with(
                &format!("sign = {{ secret = \"whsec_test_new_fake\", at = \"{at}\" }}"),
                &saved,
            );
            let signature = header(&prepared, "Stripe-Signature").unwrap();
            assert_eq!(
                verify(signature, &prepared.body, &secrets, NOW),
                expected,
                "{at}"
            );
        }
        let prepared = signed_with(
            "sign = { secret = \"whsec_test_new_fake\", tamper = true }",
            &saved,
        );
        let signature = header(&prepared, "Stripe-Signature").unwrap();
        assert_eq!(
            verify(signature, &prepared.body, &secrets, NOW),
            Err(SignatureError::NoMatch)
        );
        let sent: serde_json::Value = serde_json::from_slice(&prepared.body).unwrap();
        assert_eq!(sent["tampered"], true);
        assert_eq!(tampered(b""), b"tampered");
        assert_eq!(tampered(b"a=1"), b"a=1&tampered=1");
        let prepared = signed_with(
            "sign = { secret = \"whsec_test_new_fake\", also = [\"retired\"] }",
            &saved,
        );
        let signature = header(&prepared, "Stripe-Signature").unwrap();
        assert_eq!(signature.matches("v1=").count(), 2, "{signature}");
        assert_eq!(verify(signature, &prepared.body, &secrets, NOW), Ok(0));
        assert_eq!(verify(signature, &prepared.body, &[b"retired"], NOW), Ok(0));
    }

    #[test]
    fn a_signed_get_signs_the_empty_body() {
        let text = "kind = \"http\"\nmethod = \"GET\"\npath = \"/api/agentic/provisioning/health\"\nsign = { secret = \"k\" }\n";
        let prepared = prepare(
            &step(text),
            "http://s",
            &values(),
            &Saved::default(),
            Some(NOW),
            &SeededRandom::new(1),
        )
        .unwrap();
        assert!(prepared.body.is_empty());
        let signature = header(&prepared, "Stripe-Signature").unwrap();
        assert_eq!(verify(signature, b"", &[b"k"], NOW), Ok(0));
        assert_eq!(header(&prepared, "content-type"), None);
    }

    #[test]
    fn pkce_adds_a_challenge_the_verifier_answers() {
        let text = r#"
kind = "http"
name = "signup"
method = "POST"
path = "/api/agentic/provisioning/account_requests"
json = { email = "{email}", client_id = "posthog-wizard" }
pkce = true
"#;
        let prepared = prepare(
            &step(text),
            "http://s",
            &values(),
            &Saved::default(),
            None,
            &SeededRandom::new(2),
        )
        .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&prepared.body).unwrap();
        let verifier = CodeVerifier::parse(prepared.verifier.as_deref().unwrap()).unwrap();
        assert_eq!(body["code_challenge"], verifier.challenge().as_str());
        assert_eq!(body["code_challenge_method"], "S256");
        assert_eq!(header(&prepared, "Stripe-Signature"), None);
    }

    #[test]
    fn forms_credentials_and_header_overrides() {
        let text = r#"
kind = "http"
method = "POST"
path = "/api/agentic/oauth/token"
form = { grant_type = "authorization_code", code = "{saved.code}", code_verifier = "{saved.signup.verifier}" }
bearer = "{saved.access_token}"
headers = { "api-version" = "0.2" }
"#;
        let mut saved = Saved::default();
        saved.insert("code", "c o&de".to_owned());
        saved.insert("signup.verifier", "v".to_owned());
        saved.insert("access_token", "pha_x".to_owned());
        let prepared = prepare(
            &step(text),
            "http://s",
            &values(),
            &saved,
            None,
            &SeededRandom::new(1),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(prepared.body.clone()).unwrap(),
            "code=c+o%26de&code_verifier=v&grant_type=authorization_code"
        );
        assert_eq!(header(&prepared, "Authorization"), Some("Bearer pha_x"));
        assert_eq!(header(&prepared, "API-Version"), Some("0.2"));
        assert_eq!(
            prepared
                .headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("api-version"))
                .count(),
            1
        );
        let basic = step(
            "kind = \"http\"\nmethod = \"POST\"\npath = \"/oauth/introspect\"\nbasic = { user = \"llm-gateway\", password = \"llm-gateway-dev-secret\" }\n",
        );
        let prepared = prepare(
            &basic,
            "http://s",
            &values(),
            &Saved::default(),
            None,
            &SeededRandom::new(1),
        )
        .unwrap();
        assert_eq!(
            header(&prepared, "Authorization"),
            Some("Basic bGxtLWdhdGV3YXk6bGxtLWdhdGV3YXktZGV2LXNlY3JldA==")
        );
        let missing = prepare(
            &step(text),
            "http://s",
            &values(),
            &Saved::default(),
            None,
            &SeededRandom::new(1),
        )
        .unwrap_err();
        assert!(format!("{missing:#}").contains("code"), "{missing:#}");
    }

    /// If this fails, a scenario cannot follow a deep link it was given,
    /// or could be sent to another host than the service under test.
    #[test]
    fn a_saved_url_on_the_same_service_is_followed_as_it_is() {
        let text = "kind = \"http\"\nmethod = \"GET\"\npath = \"{saved.link}\"\n";
        Step::Http(Box::new(step(text))).validate().unwrap();
        let step = step(text);
        let mut saved = Saved::default();
        let random = SeededRandom::new(1);
        for (link, expected) in [
            (
                "http://127.0.0.1:1/agentic/login?token=t",
                Some("http://127.0.0.1:1/agentic/login?token=t"),
            ),
            (
                "/agentic/login?token=t",
                Some("http://127.0.0.1:1/agentic/login?token=t"),
            ),
            ("https://evil.example/x", None),
        ] {
            saved.insert("link", link.to_owned());
            let prepared = prepare(
                &step,
                "http://127.0.0.1:1",
                &values(),
                &saved,
                None,
                &random,
            );
            assert_eq!(
                prepared.ok().map(|p| p.url),
                expected.map(str::to_owned),
                "{link}"
            );
        }
    }

    #[test]
    fn the_gateway_message_shorthand() {
        let message: Step = toml::from_str::<toml::Value>(
            "kind = \"gateway_message\"\napi_key = \"{saved.pat}\"\n",
        )
        .unwrap()
        .try_into()
        .unwrap();
        let Step::GatewayMessage(message) = message else {
            panic!()
        };
        let mut saved = Saved::default();
        saved.insert("pat", "phx_y".to_owned());
        let prepared = prepare(
            &gateway_message_request(&message),
            "http://g",
            &values(),
            &saved,
            None,
            &SeededRandom::new(1),
        )
        .unwrap();
        assert_eq!(prepared.url, "http://g/wizard/v1/messages");
        assert_eq!(header(&prepared, "x-api-key"), Some("phx_y"));
        assert_eq!(header(&prepared, "API-Version"), None);
        let body: serde_json::Value = serde_json::from_slice(&prepared.body).unwrap();
        assert!(body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("framework: next-js\n"));
    }
}
