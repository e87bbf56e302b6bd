//! Who may watch the admin live view (protocol section 10): the holder of
//! a one-time link, printed at start when `--admin-token` is given (or
//! drawn again with `POST /_admin/live/link` and the admin token). Opening
//! the link spends it and gives the browser a viewer cookie; only hashes
//! of links and viewer ids are kept, in memory. Once someone watches, the
//! newest exchanges' headers and bodies are kept too, masked
//! ([`protocol::masking`], shared with the gateway), for the page to show
//! on a click; before that nothing is kept and no answer is buffered.

use std::sync::Mutex;

use protocol::admin::ExchangeDetail;
use protocol::credential::hash_secret;
use protocol::masking::KeptDetails;
use protocol::random::RandomSource;

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
    /// The newest exchanges' details, masked, once a viewer was admitted.
    details: KeptDetails,
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
        self.details.watch();
        let mut viewers = lock(&self.viewers);
        viewers.push(hash_secret(&viewer));
        if viewers.len() > MAX_VIEWERS {
            viewers.remove(0);
        }
        Some(viewer)
    }

    /// Whether someone watches: exchanges' details are kept from then on.
    pub fn watched(&self) -> bool {
        self.details.watched()
    }

    /// Keeps one exchange's masked details (the newest
    /// [`protocol::masking::KEPT_DETAILS`]).
    pub fn keep(&self, detail: ExchangeDetail) {
        self.details.keep(detail);
    }

    /// The kept details of the exchange `request_id`, if still kept.
    pub fn detail(&self, request_id: &str) -> Option<ExchangeDetail> {
        self.details.detail(request_id)
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
}
