//! `target/e2e/report.xml`: JUnit XML, which CI systems render as test
//! results. One testcase per scenario (suite `scenarios`) and per matrix
//! cell (suite `matrix`); a failure carries the mismatches.

use std::time::Duration;

/// One testcase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    pub name: String,
    /// Empty when it passed.
    pub mismatches: Vec<String>,
    pub duration: Duration,
    /// Shown as `system-out`: expected and observed.
    pub summary: String,
}

/// One testsuite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSuite {
    pub name: String,
    pub cases: Vec<TestCase>,
}

/// The document's text.
pub fn document(suites: &[TestSuite]) -> String {
    let tests: usize = suites.iter().map(|suite| suite.cases.len()).sum();
    let failures: usize = suites.iter().map(failures_of).sum();
    let time: Duration = suites.iter().map(time_of).sum();
    let mut out = vec![
        r#"<?xml version="1.0" encoding="UTF-8"?>"#.to_owned(),
        format!(
            r#"<testsuites name="e2e" tests="{tests}" failures="{failures}" errors="0" time="{}">"#,
            seconds(time)
        ),
    ];
    for suite in suites {
        out.push(format!(
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="0" skipped="0" time="{}">"#,
            escape(&suite.name),
            suite.cases.len(),
            failures_of(suite),
            seconds(time_of(suite))
        ));
        for case in &suite.cases {
            out.push(format!(
                r#"    <testcase name="{}" classname="e2e.{}" time="{}">"#,
                escape(&case.name),
                escape(&suite.name),
                seconds(case.duration)
            ));
            if !case.mismatches.is_empty() {
                out.push(format!(
                    r#"      <failure message="{}" type="mismatch">{}</failure>"#,
                    escape(&format!("{} mismatch(es)", case.mismatches.len())),
                    escape(&case.mismatches.join("\n"))
                ));
            }
            out.push(format!(
                "      <system-out>{}</system-out>",
                escape(&case.summary)
            ));
            out.push("    </testcase>".to_owned());
        }
        out.push("  </testsuite>".to_owned());
    }
    out.push("</testsuites>".to_owned());
    out.push(String::new());
    out.join("\n")
}

fn failures_of(suite: &TestSuite) -> usize {
    suite
        .cases
        .iter()
        .filter(|case| !case.mismatches.is_empty())
        .count()
}

fn time_of(suite: &TestSuite) -> Duration {
    suite.cases.iter().map(|case| case.duration).sum()
}

fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// Text and attribute escaping; characters XML 1.0 forbids are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(character),
            control if (control as u32) < 0x20 => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_testcase_per_scenario_with_failures_and_times() {
        let suites = [TestSuite {
            name: "scenarios".to_owned(),
            cases: vec![
                TestCase {
                    name: "scope-bug".to_owned(),
                    mismatches: vec!["wizard output lacks \"<401> & co\"".to_owned()],
                    duration: Duration::from_millis(1500),
                    summary: "expected: exit 3; observed: exit 0".to_owned(),
                },
                TestCase {
                    name: "signup".to_owned(),
                    mismatches: Vec::new(),
                    duration: Duration::from_millis(250),
                    summary: "expected: exit 0; observed: exit 0".to_owned(),
                },
            ],
        }];
        insta::assert_snapshot!(document(&suites), @r#"
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="e2e" tests="2" failures="1" errors="0" time="1.750">
          <testsuite name="scenarios" tests="2" failures="1" errors="0" skipped="0" time="1.750">
            <testcase name="scope-bug" classname="e2e.scenarios" time="1.500">
              <failure message="1 mismatch(es)" type="mismatch">wizard output lacks &quot;&lt;401&gt; &amp; co&quot;</failure>
              <system-out>expected: exit 3; observed: exit 0</system-out>
            </testcase>
            <testcase name="signup" classname="e2e.scenarios" time="0.250">
              <system-out>expected: exit 0; observed: exit 0</system-out>
            </testcase>
          </testsuite>
        </testsuites>
        "#);
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(escape("a\u{1b}[31mb\n'"), "a[31mb\n&apos;");
    }
}
