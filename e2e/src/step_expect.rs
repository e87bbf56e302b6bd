//! The checks of an HTTP step's `expect` table against one answer, as
//! plain data: status, JSON pointers, headers, body text. Messages say
//! what was expected and what came back; the caller prefixes the step and
//! masks credentials.

use crate::answer::{excerpt, header, Answer};
use crate::steps::HttpExpect;

/// Every expectation of `expect` against `answer`. Expected JSON strings
/// have already had their placeholders replaced by the caller.
pub fn check(expect: &HttpExpect, answer: &Answer) -> Vec<String> {
    let mut mismatches = Vec::new();
    if let Some(status) = expect.status {
        if status != answer.status {
            mismatches.push(format!(
                "status: expected {status}, got {}; body: {}",
                answer.status,
                excerpt(&answer.body)
            ));
        }
    }
    if expect.status_not.contains(&answer.status) {
        mismatches.push(format!(
            "status: expected anything but {}, got it; body: {}",
            answer.status,
            excerpt(&answer.body)
        ));
    }
    let needs_json = !expect.json.is_empty()
        || !expect.json_present.is_empty()
        || !expect.json_absent.is_empty()
        || !expect.json_not.is_empty();
    if needs_json {
        match answer.json() {
            Some(document) => {
                mismatches.extend(check_json(expect, &document));
            }
            None => mismatches.push(format!(
                "expected a JSON body, got: {}",
                excerpt(&answer.body)
            )),
        }
    }
    for name in &expect.header_present {
        if header(answer, name).is_none() {
            mismatches.push(format!(
                "header {name}: expected present, got none (headers: {})",
                header_names(answer)
            ));
        }
    }
    for (name, wanted) in &expect.headers {
        match header(answer, name) {
            Some(value) if value == wanted => {}
            Some(value) => {
                mismatches.push(format!("header {name}: expected {wanted:?}, got {value:?}"))
            }
            None => mismatches.push(format!("header {name}: expected {wanted:?}, got none")),
        }
    }
    for (name, needle) in &expect.header_contains {
        match header(answer, name) {
            Some(value) if value.contains(needle.as_str()) => {}
            Some(value) => mismatches.push(format!(
                "header {name}: expected it to contain {needle:?}, got {value:?}"
            )),
            None => mismatches.push(format!(
                "header {name}: expected it to contain {needle:?}, got none"
            )),
        }
    }
    for needle in &expect.body_contains {
        if !answer.body.contains(needle.as_str()) {
            mismatches.push(format!(
                "body: expected it to contain {needle:?}, got: {}",
                excerpt(&answer.body)
            ));
        }
    }
    for needle in &expect.body_lacks {
        if answer.body.contains(needle.as_str()) {
            mismatches.push(format!(
                "body: expected it not to contain {needle:?}, got: {}",
                excerpt(&answer.body)
            ));
        }
    }
    mismatches
}

/// The JSON-pointer expectations (RFC 6901; `""` is the whole document).
pub fn check_json(expect: &HttpExpect, document: &serde_json::Value) -> Vec<String> {
    let mut mismatches = Vec::new();
    for (pointer, wanted) in &expect.json {
        match document.pointer(pointer) {
            Some(found) if found == wanted => {}
            Some(found) => mismatches.push(format!(
                "json {}: expected {}, got {}",
                show_pointer(pointer),
                wanted,
                excerpt(&found.to_string())
            )),
            None => mismatches.push(format!(
                "json {}: expected {}, got no such key; body: {}",
                show_pointer(pointer),
                wanted,
                excerpt(&document.to_string())
            )),
        }
    }
    for pointer in &expect.json_present {
        if document.pointer(pointer).is_none() {
            mismatches.push(format!(
                "json {}: expected present, got no such key; body: {}",
                show_pointer(pointer),
                excerpt(&document.to_string())
            ));
        }
    }
    for (pointer, unwanted) in &expect.json_not {
        match document.pointer(pointer) {
            Some(found) if found == unwanted => mismatches.push(format!(
                "json {}: expected anything but {}, got it",
                show_pointer(pointer),
                unwanted
            )),
            Some(_) => {}
            None => mismatches.push(format!(
                "json {}: expected a value other than {}, got no such key; body: {}",
                show_pointer(pointer),
                unwanted,
                excerpt(&document.to_string())
            )),
        }
    }
    for pointer in &expect.json_absent {
        if let Some(found) = document.pointer(pointer) {
            mismatches.push(format!(
                "json {}: expected absent, got {}",
                show_pointer(pointer),
                excerpt(&found.to_string())
            ));
        }
    }
    mismatches
}

fn show_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        "(whole body)".to_owned()
    } else {
        pointer.to_owned()
    }
}

fn header_names(answer: &Answer) -> String {
    answer
        .headers
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: BTreeMap::from([
                ("cache-control".to_owned(), "no-store".to_owned()),
                (
                    "www-authenticate".to_owned(),
                    "Bearer realm=\"llm-gateway\", error=\"insufficient_scope\"".to_owned(),
                ),
            ]),
            body: body.to_owned(),
        }
    }

    fn expect_json(pairs: &[(&str, serde_json::Value)]) -> HttpExpect {
        HttpExpect {
            json: pairs
                .iter()
                .map(|(pointer, value)| ((*pointer).to_owned(), value.clone()))
                .collect(),
            ..HttpExpect::default()
        }
    }

    #[test]
    fn json_pointer_table() {
        let body = json!({"type": "error", "error": {"code": "invalid_signature"}, "data": [{"id": "analytics"}], "n": 3600});
        let cases: Vec<(HttpExpect, Vec<&str>)> = vec![
            (
                expect_json(&[
                    ("/type", json!("error")),
                    ("/error/code", json!("invalid_signature")),
                    ("/data/0/id", json!("analytics")),
                    ("/n", json!(3600)),
                ]),
                vec![],
            ),
            (
                expect_json(&[("/error/code", json!("unauthorized"))]),
                vec!["json /error/code: expected \"unauthorized\", got \"invalid_signature\""],
            ),
            (
                expect_json(&[("/oauth/code", json!("x"))]),
                vec!["json /oauth/code: expected \"x\", got no such key"],
            ),
            (
                expect_json(&[("", json!({"active": false}))]),
                vec!["json (whole body): expected {\"active\":false}, got {"],
            ),
            (
                HttpExpect {
                    json_present: vec!["/data".to_owned(), "/next_cursor".to_owned()],
                    json_absent: vec!["/n".to_owned(), "/missing".to_owned()],
                    ..HttpExpect::default()
                },
                vec![
                    "json /next_cursor: expected present, got no such key",
                    "json /n: expected absent, got 3600",
                ],
            ),
        ];
        for (expect, wanted) in cases {
            let found = check_json(&expect, &body);
            assert_eq!(found.len(), wanted.len(), "{found:?}");
            for (message, start) in found.iter().zip(&wanted) {
                assert!(message.starts_with(start), "{message} vs {start}");
            }
        }
        assert!(check_json(&expect_json(&[("", body.clone())]), &body).is_empty());
        let not = |pairs: &[(&str, serde_json::Value)]| HttpExpect {
            json_not: pairs
                .iter()
                .map(|(pointer, value)| ((*pointer).to_owned(), value.clone()))
                .collect(),
            ..HttpExpect::default()
        };
        assert!(check_json(&not(&[("/n", json!(3599))]), &body).is_empty());
        let found = check_json(&not(&[("/n", json!(3600)), ("/missing", json!(1))]), &body);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("json /missing: expected a value other than 1, got no such key"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with("json /n: expected anything but 3600, got it"),
            "{found:?}"
        );
    }

    #[test]
    fn status_headers_and_body() {
        let expect = HttpExpect {
            status: Some(200),
            header_present: vec!["x-request-id".to_owned(), "Cache-Control".to_owned()],
            headers: BTreeMap::from([("Cache-Control".to_owned(), "no-cache".to_owned())]),
            header_contains: BTreeMap::from([(
                "WWW-Authenticate".to_owned(),
                "insufficient_scope".to_owned(),
            )]),
            body_contains: vec!["Authentication required".to_owned(), "zzz".to_owned()],
            ..HttpExpect::default()
        };
        let found = check(
            &expect,
            &answer(401, "{\"detail\":\"Authentication required\"}"),
        );
        assert_eq!(
            found,
            [
                "status: expected 200, got 401; body: {\"detail\":\"Authentication required\"}",
                "header x-request-id: expected present, got none (headers: cache-control, www-authenticate)",
                "header Cache-Control: expected \"no-cache\", got \"no-store\"",
                "body: expected it to contain \"zzz\", got: {\"detail\":\"Authentication required\"}",
            ]
        );
    }

    #[test]
    fn a_status_that_must_not_be() {
        let expect = HttpExpect {
            status_not: vec![404, 500],
            ..HttpExpect::default()
        };
        assert!(check(&expect, &answer(400, "x")).is_empty());
        let lacks = HttpExpect {
            body_lacks: vec!["llm_gateway".to_owned()],
            ..HttpExpect::default()
        };
        assert!(check(&lacks, &answer(200, "[\"openid\"]")).is_empty());
        assert_eq!(
            check(&lacks, &answer(200, "[\"llm_gateway:read\"]")),
            ["body: expected it not to contain \"llm_gateway\", got: [\"llm_gateway:read\"]"]
        );
        assert_eq!(
            check(&expect, &answer(404, "none")),
            ["status: expected anything but 404, got it; body: none"]
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_a_mismatch_when_pointers_are_asked() {
        let expect = expect_json(&[("/a", json!(1))]);
        let found = check(&expect, &answer(500, "Internal Server Error"));
        assert_eq!(found, ["expected a JSON body, got: Internal Server Error"]);
        assert!(check(&HttpExpect::default(), &answer(500, "x")).is_empty());
    }
}
