//! A real browser for the `chromium` steps: Debian's headless Chromium,
//! driven over WebDriver by `fantoccini` through Debian's `chromedriver`,
//! started as a child on a free loopback port for one scenario and closed
//! with it. Each scenario gets a fresh profile directory, so no cookie
//! outlives it.
//!
//! Where the programs are: `$E2E_CHROMIUM` and `$E2E_CHROMEDRIVER`, else
//! `chromium` and `chromedriver` on `PATH` (Debian puts them in
//! `/usr/bin`). Without them a scenario that needs Chromium is not run
//! (locally) or fails (in CI, `CI=true`), naming [`INSTALL_COMMAND`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::process::{self, Background, Invocation};

/// How a person installs what the `chromium` steps need.
pub const INSTALL_COMMAND: &str =
    "apt-get install -y chromium chromium-driver (or `just chromium`)";

/// How long chromedriver and the first Chromium window may take to start.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// Chromium's flags: headless, no sandbox (containers run as root), and
/// none of its own traffic (updates, sync, field trials, QUIC probes):
/// this machine refuses every connection off loopback, and those refusals
/// would only slow the pages down.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,800",
];

/// Whether a run must have Chromium: in CI (`CI=true`) a scenario that
/// needs it fails when it cannot start, rather than being left out.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1")
}

/// The two programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programs {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

/// Finds Chromium and chromedriver, or says which is missing.
pub fn locate() -> Result<Programs> {
    let find = |variable: &str, name: &str| -> Result<PathBuf> {
        if let Some(path) = std::env::var_os(variable) {
            return Ok(PathBuf::from(path));
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| anyhow!("`{name}` is not on PATH (nor named by ${variable})"))
    };
    Ok(Programs {
        chromium: find("E2E_CHROMIUM", "chromium")?,
        chromedriver: find("E2E_CHROMEDRIVER", "chromedriver")?,
    })
}

/// One headless Chromium and its chromedriver.
pub struct Chromium {
    client: Client,
    driver: Background,
    /// The profile directory, removed when the browser is dropped.
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts chromedriver on a free loopback port (its output in `dir`)
    /// and opens a Chromium session with a fresh profile.
    pub async fn start(programs: &Programs, dir: &Path) -> Result<Chromium> {
        let port = process::free_port()?;
        let profile = tempfile::Builder::new()
            .prefix("chromium-profile-")
            .tempdir_in(dir)
            .context("cannot create Chromium's profile directory")?;
        let home = dir.join("chromium-home");
        std::fs::create_dir_all(&home)?;
        let invocation = Invocation {
            program: programs.chromedriver.clone(),
            args: vec![format!("--port={port}")],
            env: process::base_environment(&home, &home),
            current_dir: dir.to_path_buf(),
        };
        let mut driver = process::start_background(
            "chromedriver",
            &invocation,
            None,
            &dir.join("chromedriver.stdout"),
            &dir.join("chromedriver.stderr"),
        )
        .await?;
        let started = regex::Regex::new("started successfully").expect("a valid pattern");
        if let Err(error) = driver.wait_for_line(&started, START_DEADLINE).await {
            driver.kill().await;
            return Err(error.context("chromedriver did not start"));
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": programs.chromium.display().to_string(),
                "args": args,
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{port}");
        let client = match tokio::time::timeout(START_DEADLINE, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                driver.kill().await;
                bail!("Chromium did not start: {error}");
            }
            Err(_elapsed) => {
                driver.kill().await;
                bail!(
                    "Chromium did not start within {} s",
                    START_DEADLINE.as_secs()
                );
            }
        };
        Ok(Chromium {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Ends the session and chromedriver (Chromium with it).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.close()).await;
        self.driver.kill().await;
    }

    pub async fn open(&self, url: &str) -> Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("cannot open {url}"))
    }

    pub async fn current_url(&self) -> Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    /// The text a person reads on the page.
    pub async fn page_text(&self) -> Result<String> {
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The HTTP status of the page's navigation, as Chromium's
    /// Navigation Timing reports it (`None` before any page).
    pub async fn status(&self) -> Result<Option<u16>> {
        let status = self
            .client
            .execute(
                "const entry = performance.getEntriesByType('navigation')[0]; return entry ? entry.responseStatus : null;",
                vec![],
            )
            .await?;
        Ok(status
            .as_u64()
            .and_then(|status| u16::try_from(status).ok()))
    }

    pub async fn fill(&self, selector: &str, value: &str) -> Result<()> {
        let element = self.find(selector).await?;
        element.clear().await?;
        element.send_keys(value).await?;
        Ok(())
    }

    pub async fn click(&self, selector: &str) -> Result<()> {
        self.find(selector).await?.click().await?;
        Ok(())
    }

    /// The text of the first element `selector` finds, or `None`.
    pub async fn text_of(&self, selector: &str) -> Result<Option<String>> {
        let found = self.client.find_all(Locator::Css(selector)).await?;
        match found.first() {
            Some(element) => Ok(Some(element.text().await?)),
            None => Ok(None),
        }
    }

    /// Replaces each of `secrets` on the page by its masked form, so a
    /// screenshot never shows a full secret.
    pub async fn mask_on_page(&self, secrets: &[(String, String)]) -> Result<()> {
        if secrets.is_empty() {
            return Ok(());
        }
        let pairs = serde_json::to_value(secrets)?;
        self.client
            .execute(
                "const pairs = arguments[0];\
                 const walker = document.createTreeWalker(document.body || document, NodeFilter.SHOW_TEXT);\
                 for (let node = walker.nextNode(); node; node = walker.nextNode()) {\
                   for (const [secret, masked] of pairs) { node.nodeValue = node.nodeValue.split(secret).join(masked); }\
                 }\
                 for (const input of document.querySelectorAll('input')) {\
                   for (const [secret, masked] of pairs) { input.value = input.value.split(secret).join(masked); }\
                 }",
                vec![pairs],
            )
            .await?;
        Ok(())
    }

    /// The page's HTML as Chromium holds it now (scripts' changes included).
    pub async fn source(&self) -> Result<String> {
        Ok(self.client.source().await?)
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        Ok(self.client.screenshot().await?)
    }

    async fn find(&self, selector: &str) -> Result<fantoccini::elements::Element> {
        self.client
            .find(Locator::Css(selector))
            .await
            .with_context(|| format!("no element matches {selector:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_never_talks_to_the_network_on_its_own() {
        for flag in [
            "--headless",
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ] {
            assert!(CHROMIUM_FLAGS.contains(&flag), "{flag}");
        }
    }
}
