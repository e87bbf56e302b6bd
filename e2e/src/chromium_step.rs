//! Runs the `chromium` steps: each action in order against the
//! scenario's one Chromium, the whole step bounded by its
//! `timeout_seconds`, then a screenshot into the scenario's report folder
//! (taken even when an action failed, since that page is the one a person
//! wants to see). The step's table is in [`crate::steps::chromium`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::chromium::Chromium;
use crate::placeholders::{Saved, Substitution};
use crate::step_context::StepContext;
use crate::steps::chromium::without_query;
use crate::steps::{ChromiumAction, ChromiumStep};

/// How often a waiting action looks at the page again.
const POLL: Duration = Duration::from_millis(100);

/// A screenshot a step saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// The step's title, `step N (label)`.
    pub title: String,
    /// The PNG's path.
    pub path: PathBuf,
}

/// Runs one `chromium` step; `Ok` holds the failures of its checks.
pub async fn run(
    step: &ChromiumStep,
    context: &StepContext<'_>,
    saved: &mut Saved,
    transcript: &mut Vec<String>,
    screenshots: &mut Vec<Screenshot>,
    number: usize,
    title: &str,
) -> Result<Vec<String>> {
    let Some(chromium) = context.chromium else {
        bail!("Chromium is not running for this scenario");
    };
    let deadline = Instant::now() + Duration::from_secs(step.timeout_seconds);
    let mut failures = Vec::new();
    for (index, action) in step.actions.iter().enumerate() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = tokio::time::timeout(
            remaining,
            perform(action, chromium, context, saved, deadline),
        )
        .await;
        let what = action.describe();
        match outcome {
            Ok(Ok(None)) => transcript.push(format!("{title}: {what}")),
            Ok(Ok(Some(failure))) | Ok(Err(failure)) => {
                let failure = format!("action {} ({what}): {failure:#}", index + 1);
                transcript.push(format!("{title}: {failure}"));
                failures.push(failure);
                break;
            }
            Err(_elapsed) => {
                let failure = format!(
                    "action {} ({what}) did not finish within the step's {} s",
                    index + 1,
                    step.timeout_seconds
                );
                transcript.push(format!("{title}: {failure}"));
                failures.push(failure);
                break;
            }
        }
    }
    // Whatever the page is now, no full credential may be on it (the
    // admin live view and the code page are checked by this too); one
    // found is masked before the screenshot as well.
    let mut leaked = Vec::new();
    match tokio::time::timeout(Duration::from_secs(5), chromium.source()).await {
        Ok(Ok(source)) => {
            for secret in protocol::credential::find_full_secrets(&source) {
                failures.push(format!(
                    "the page shows a full credential: {}",
                    protocol::credential::mask(&secret)
                ));
                leaked.push(secret);
            }
        }
        Ok(Err(error)) => failures.push(format!("cannot read the page: {error:#}")),
        Err(_elapsed) => failures.push("cannot read the page within 5 s".to_owned()),
    }
    if let Some(dir) = context.screenshots {
        let path = dir.join(format!("step-{number:02}.png"));
        match tokio::time::timeout(
            Duration::from_secs(10),
            take_screenshot(chromium, saved, &leaked, &path),
        )
        .await
        {
            Ok(Ok(())) => screenshots.push(Screenshot {
                title: title.to_owned(),
                path,
            }),
            Ok(Err(error)) => failures.push(format!("no screenshot: {error:#}")),
            Err(_elapsed) => failures.push("no screenshot within 10 s".to_owned()),
        }
    }
    Ok(failures)
}

/// One action: `Ok(None)` when it held, `Ok(Some(why))` when a check did
/// not, `Err` when it could not be done at all.
async fn perform(
    action: &ChromiumAction,
    chromium: &Chromium,
    context: &StepContext<'_>,
    saved: &mut Saved,
    deadline: Instant,
) -> Result<Option<anyhow::Error>> {
    let fill = Substitution::new(context.values, saved);
    match action {
        ChromiumAction::Open { url, drop_query } => {
            let url = fill.text(url)?;
            let url = match url.starts_with('/') {
                true => format!("{}{url}", context.server_url),
                false => url,
            };
            chromium.open(&without_query(&url, drop_query)).await?;
            Ok(None)
        }
        ChromiumAction::Fill { selector, value } => {
            chromium.fill(selector, &fill.text(value)?).await?;
            Ok(None)
        }
        ChromiumAction::Click { selector } => {
            chromium.click(selector).await?;
            Ok(None)
        }
        ChromiumAction::Read { selector, save } => {
            let text = wait_for(deadline, || async {
                Ok(chromium
                    .text_of(selector)
                    .await?
                    .map(|text| text.trim().to_owned())
                    .filter(|text| !text.is_empty()))
            })
            .await?;
            match text {
                Some(text) => {
                    saved.insert(save, text);
                    Ok(None)
                }
                None => Ok(Some(anyhow::anyhow!("no element {selector:?} with text"))),
            }
        }
        ChromiumAction::ExpectText(text) => {
            let text = fill.text(text)?;
            let found = wait_for(deadline, || async {
                Ok(chromium.page_text().await?.contains(&text).then_some(()))
            })
            .await?;
            Ok(match found {
                Some(()) => None,
                None => Some(anyhow::anyhow!(
                    "the page never showed {text:?}; it reads: {}",
                    excerpt(&chromium.page_text().await.unwrap_or_default())
                )),
            })
        }
        ChromiumAction::ExpectNoText(text) => {
            let text = fill.text(text)?;
            let page = chromium.page_text().await?;
            Ok(page
                .contains(&text)
                .then(|| anyhow::anyhow!("the page shows {text:?}; it reads: {}", excerpt(&page))))
        }
        ChromiumAction::ExpectUrl(prefix) => {
            let prefix = fill.text(prefix)?;
            let reached = wait_for(deadline, || async {
                let url = chromium.current_url().await?;
                Ok(url.starts_with(&prefix).then_some(()))
            })
            .await?;
            Ok(match reached {
                Some(()) => None,
                None => Some(anyhow::anyhow!(
                    "the browser is at {}, not under {prefix}",
                    chromium.current_url().await.unwrap_or_default()
                )),
            })
        }
        ChromiumAction::ExpectStatus(expected) => {
            let status = chromium.status().await?;
            Ok((status != Some(*expected)).then(|| {
                anyhow::anyhow!(
                    "the page's status is {}, not {expected}",
                    status.map_or("unknown".to_owned(), |status| status.to_string())
                )
            }))
        }
    }
}

/// Asks `probe` until it answers `Some`, or the deadline passes (then
/// `None`): pages load and redirects land on their own time.
async fn wait_for<T, F, Fut>(deadline: Instant, mut probe: F) -> Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    loop {
        if let Some(value) = probe().await? {
            return Ok(Some(value));
        }
        // Leaves time for the failure's own look at the page.
        if Instant::now() + POLL * 5 >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The page with every saved secret and every `leaked` credential
/// masked, as a PNG at `path`.
async fn take_screenshot(
    chromium: &Chromium,
    saved: &Saved,
    leaked: &[String],
    path: &PathBuf,
) -> Result<()> {
    let mut secrets: Vec<(String, String)> = saved
        .secret_values()
        .map(|secret| (secret.to_owned(), saved.mask(secret)))
        .collect();
    secrets.extend(
        leaked
            .iter()
            .map(|secret| (secret.clone(), protocol::credential::mask(secret))),
    );
    chromium.mask_on_page(&secrets).await?;
    let png = chromium.screenshot().await?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
}

/// The start of a page's text, on one line.
fn excerpt(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
