//! Who may watch the admin live view (protocol section 10): the holder of
//! a one-time link, printed at start when `--admin-token` is given (or
//! drawn again with `POST /_admin/live/link` and the admin token). Opening
//! the link spends it and gives the browser a viewer cookie; only hashes
//! of links and viewer ids are kept, in memory. Once someone watches, the
//! newest exchanges' headers and bodies are kept too, masked
//! ([`masking`]), for the page to show on a click; before that nothing is
//! kept and no answer is buffered.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use protocol::admin::ExchangeDetail;
use protocol::credential::hash_secret;
use protocol::random::RandomSource;

pub mod masking;

/// The exchanges whose headers and bodies are kept, newest last.
pub const KEPT_DETAILS: usize = 200;

/// The viewer cookie's name.
pub const VIEWER_COOKIE: &str = "posthog_admin_view";

/// Viewers kept at most; the oldest is forgotten first.
pub const MAX_VIEWERS: usize = 16;

/// The live view's one-time links and viewers.
#[derive(Debug, Default)]
pub struct LiveView {
    /// Hashes of the links not yet opened.
    tickets: Mutex<Vec<String>>,
    /// Hashes of the viewer ids handed out, oldest first.
    viewers: Mutex<Vec<String>>,
    /// Whether any viewer was ever admitted: only then are details kept.
    watched: AtomicBool,
    /// The newest exchanges' details, masked.
    details: Mutex<VecDeque<ExchangeDetail>>,
}

impl LiveView {
    /// A fresh one-time ticket for the link.
    pub fn issue_ticket(&self, random: &dyn RandomSource) -> String {
        let ticket = draw(random);
        let mut tickets = lock(&self.tickets);
        tickets.push(hash_secret(&ticket));
        // Links nobody opened pile up only as fast as an admin draws them.
        if tickets.len() > MAX_VIEWERS {
            tickets.remove(0);
        }
        ticket
    }

    /// Spends `ticket`: a new viewer's id when it was live, else `None`.
    pub fn redeem(&self, ticket: &str, random: &dyn RandomSource) -> Option<String> {
        let hashed = hash_secret(ticket);
        let mut tickets = lock(&self.tickets);
        let position = tickets.iter().position(|live| *live == hashed)?;
        tickets.remove(position);
        drop(tickets);
        let viewer = draw(random);
        self.watched.store(true, Ordering::Relaxed);
        let mut viewers = lock(&self.viewers);
        viewers.push(hash_secret(&viewer));
        if viewers.len() > MAX_VIEWERS {
            viewers.remove(0);
        }
        Some(viewer)
    }

    /// Whether someone watches: exchanges' details are kept from then on.
    pub fn watched(&self) -> bool {
        self.watched.load(Ordering::Relaxed)
    }

    /// Keeps one exchange's masked details, dropping the oldest beyond
    /// [`KEPT_DETAILS`].
    pub fn keep(&self, detail: ExchangeDetail) {
        let mut details = lock(&self.details);
        details.push_back(detail);
        if details.len() > KEPT_DETAILS {
            details.pop_front();
        }
    }

    /// The kept details of the exchange `request_id`, if still kept.
    pub fn detail(&self, request_id: &str) -> Option<ExchangeDetail> {
        lock(&self.details)
            .iter()
            .rev()
            .find(|detail| detail.request_id == request_id)
            .cloned()
    }

    /// Whether `viewer` is an id this server handed out.
    pub fn admits(&self, viewer: &str) -> bool {
        let hashed = hash_secret(viewer);
        lock(&self.viewers).contains(&hashed)
    }
}

/// The viewer id in a request's `Cookie` header, if any.
pub fn viewer_id(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == VIEWER_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The `Set-Cookie` value for a viewer: only the live view's paths, never
/// sent by another site's page, unreadable by scripts.
pub fn viewer_cookie(viewer: &str) -> String {
    format!("{VIEWER_COOKIE}={viewer}; Path=/_admin/live; HttpOnly; SameSite=Strict")
}

/// 32 random bytes as lowercase hex.
fn draw(random: &dyn RandomSource) -> String {
    hex::encode(random.bytes(32))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::random::SeededRandom;

    /// If this fails, a printed admin link works twice (anyone reading the
    /// terminal's scrollback gets in), or a made-up viewer id is let in.
    #[test]
    fn a_link_opens_once_and_only_its_viewer_is_admitted() {
        let random = SeededRandom::new(7);
        let view = LiveView::default();
        let ticket = view.issue_ticket(&random);
        assert_eq!(ticket.len(), 64);
        assert!(view.redeem("not-a-ticket", &random).is_none());
        let viewer = view.redeem(&ticket, &random).expect("a live ticket");
        assert!(view.redeem(&ticket, &random).is_none(), "spent");
        assert!(view.admits(&viewer));
        assert!(!view.admits(&ticket));
        assert!(!view.admits(""));
        let cookie = format!("a=b; {}", viewer_cookie(&viewer));
        assert_eq!(viewer_id(&cookie), Some(viewer.as_str()));
        assert!(viewer_cookie(&viewer).contains("HttpOnly; SameSite=Strict"));
        for _ in 0..MAX_VIEWERS {
            let next = view.issue_ticket(&random);
            view.redeem(&next, &random).unwrap();
        }
        assert!(!view.admits(&viewer), "the oldest viewer is forgotten");
        assert!(view.watched());
    }

    /// If this fails, the live view's memory grows with every request.
    #[test]
    fn details_are_kept_newest_last_within_the_cap() {
        let view = LiveView::default();
        assert!(!view.watched());
        let detail = |id: usize| ExchangeDetail {
            request_id: id.to_string(),
            request_headers: Vec::new(),
            request_body: String::new(),
            response_headers: Vec::new(),
            response_body: String::new(),
        };
        for id in 0..=KEPT_DETAILS {
            view.keep(detail(id));
        }
        assert!(view.detail("0").is_none());
        assert_eq!(view.detail("1"), Some(detail(1)));
        assert_eq!(
            view.detail(&KEPT_DETAILS.to_string()),
            Some(detail(KEPT_DETAILS))
        );
    }
}
