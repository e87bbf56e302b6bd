//! One HTTP answer as every check sees it (status, headers, body text),
//! and the excerpt a mismatch quotes. It sits below the steps, the checks
//! and the browser, which all read answers and none of which owns them.

use std::collections::BTreeMap;

/// Characters of a body quoted in a mismatch.
pub const BODY_EXCERPT_CHARS: usize = 400;

/// One HTTP answer, as the checks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Answer {
    /// Reads a whole response: its status, its headers (repeated ones
    /// joined with `, `) and its body as text.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|existing| {
                    existing.push_str(", ");
                    existing.push_str(&value);
                })
                .or_insert(value);
        }
        let body = response.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A header's value by case-insensitive name.
pub fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .get(&name.to_ascii_lowercase())
        .map(String::as_str)
}

/// At most [`BODY_EXCERPT_CHARS`] characters, with a note when cut.
pub fn excerpt(text: &str) -> String {
    let count = text.chars().count();
    if count <= BODY_EXCERPT_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
    format!("{head}… ({count} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut() {
        let long = "a".repeat(BODY_EXCERPT_CHARS + 10);
        let cut = excerpt(&long);
        assert!(cut.ends_with(&format!("… ({} characters)", BODY_EXCERPT_CHARS + 10)));
        assert_eq!(excerpt("short"), "short");
    }
}
