//! `x-request-id`: the caller's when [`protocol::request_id::accept`] takes
//! it, else a new one (`crate::front` gives each request its own). Every
//! answer carries it, the journal and the log line record it, and the
//! messages handler passes it on to introspection.

/// The request's id, stored in the request's extensions: only an id
/// [`protocol::request_id::accept`] took (which holds nothing
/// `redact_secret_shaped` would mask) or one the gateway made, so it is
/// journaled and logged as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A new id: `req_` and a UUID drawn from `random`.
    pub fn made(random: &dyn protocol::random::RandomSource) -> RequestId {
        RequestId(format!("req_{}", random.request_uuid()))
    }

    /// The caller's id, if [`protocol::request_id::accept`] takes it.
    pub fn accepted(presented: &str) -> Option<RequestId> {
        protocol::request_id::accept(presented).map(|id| RequestId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}
