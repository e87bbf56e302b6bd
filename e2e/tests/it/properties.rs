//! The scenario parser against text nobody meant to write: arbitrary
//! text, the real scenario files cut and scrambled line by line, and the
//! real files with one value replaced by a value of any shape. Whatever
//! comes in, `Scenario::parse` answers `Ok` or an error that names the
//! file; it never panics (a panic would stop `cargo run -p e2e` before it
//! ran a single scenario, with a backtrace instead of the file's name).
//!
//! 256 cases per property; `RELIABILITY_FULL=1` runs 5,000.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::Config;

use e2e::scenario::Scenario;

fn config() -> Config {
    let cases = match std::env::var("RELIABILITY_FULL").as_deref() {
        Ok("1") => 5_000,
        _ => 256,
    };
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Every scenario file: its path and text.
fn scenarios() -> &'static [(PathBuf, String)] {
    static FILES: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios");
        let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
            .expect("the scenario directory reads")
            .map(|entry| entry.expect("an entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("a scenario reads");
                (path, text)
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no scenario files in {}", dir.display());
        files
    })
}

/// Parses, and checks that a refusal names the file.
fn check(text: &str, origin: &Path) -> Result<(), TestCaseError> {
    if let Err(error) = Scenario::parse(text, origin) {
        let message = format!("{error:#}");
        let name = origin.file_name().unwrap().to_string_lossy();
        prop_assert!(
            message.contains(name.as_ref()),
            "the error does not name {}: {}",
            name,
            message
        );
    }
    Ok(())
}

/// Pieces that TOML and the scenario format care about.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\"",
            "'",
            "'''",
            "\"\"\"",
            "[",
            "]",
            "[[steps]]",
            "[wizard]",
            "[expect]",
            "[server]",
            "[gateway]",
            "[project]",
            "=",
            "= 1",
            "= -9223372036854775808",
            "= 18446744073709551616",
            "= 1e999",
            "= nan",
            "= inf",
            "= true",
            "= []",
            "= {}",
            "= \"\"",
            "kind = \"http\"",
            "kind = \"wizard\"",
            "kind = \"browser_open\"",
            "kind = \"advance_clock\"",
            "method = \"\"",
            "path = \"\"",
            "path = \"../../etc\"",
            "pkce = true",
            "\\u0000",
            "\\",
            "#",
            "\n",
            "\r\n",
            "\t",
            ".",
            "{saved.",
            "{email}",
            "}",
            "é",
            "\u{0}",
            "\u{feff}",
            "1979-05-27T07:32:00Z",
            "at = \"now+\"",
        ])
        .prop_map(str::to_owned),
        ".{0,20}",
    ]
}

/// A real file, changed the way a hurried edit (or a bad merge) would.
fn mutated_scenario() -> impl Strategy<Value = (PathBuf, String)> {
    let files = scenarios().len();
    (
        0..files,
        prop::collection::vec(
            (
                0u8..6,
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                token(),
            ),
            1..6,
        ),
    )
        .prop_map(|(file, edits)| {
            let (path, text) = &scenarios()[file];
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            for (edit, first, second, token) in edits {
                if lines.is_empty() {
                    lines.push(token);
                    continue;
                }
                let at = first.index(lines.len());
                match edit {
                    0 => {
                        lines.remove(at);
                    }
                    1 => {
                        let copy = lines[at].clone();
                        lines.insert(second.index(lines.len() + 1), copy);
                    }
                    2 => {
                        let other = second.index(lines.len());
                        lines.swap(at, other);
                    }
                    3 => lines[at] = token,
                    4 => {
                        // Insert the token at a character boundary inside the line.
                        let line = &mut lines[at];
                        let boundaries: Vec<usize> = line
                            .char_indices()
                            .map(|(index, _)| index)
                            .chain([line.len()])
                            .collect();
                        let cut = boundaries[second.index(boundaries.len())];
                        line.insert_str(cut, &token);
                    }
                    _ => lines.truncate(at),
                }
            }
            (path.clone(), lines.join("\n"))
        })
}

/// A TOML value of any shape, a few levels deep.
fn any_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        ".{0,20}".prop_map(toml::Value::String),
        prop::sample::select(vec![
            "",
            "/",
            "../outside",
            "/etc/passwd",
            "{saved.x}",
            "{saved.",
            "{email}",
            "GET",
            "get",
            "POST /x",
            "now+301",
            "now-",
            "legacy",
            "current",
            "us",
            "eu",
            "http",
            "wizard",
            "next-js",
            "untouched",
            "integrated",
        ])
        .prop_map(|text| toml::Value::String(text.to_owned())),
        any::<i64>().prop_map(toml::Value::Integer),
        prop::sample::select(vec![0i64, -1, 1, 200, 401, 599, 65_536, i64::MAX, i64::MIN])
            .prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<f64>().prop_map(toml::Value::Float),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "kind",
                    "method",
                    "path",
                    "json",
                    "form",
                    "raw",
                    "content_type",
                    "bearer",
                    "basic",
                    "sign",
                    "at",
                    "pkce",
                    "name",
                    "expect",
                    "save",
                    "status",
                    "api_key",
                    "app",
                    "args",
                    "env",
                    "target",
                    "seconds",
                    "url",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..4,
            )
            .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
        ]
    })
}

/// Every place in a TOML value: the keys and indexes that lead to it.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn places(value: &toml::Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match value {
        toml::Value::Table(table) => {
            for (key, child) in table {
                prefix.push(Step::Key(key.clone()));
                places(child, prefix, out);
                prefix.pop();
            }
        }
        toml::Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(Step::Index(index));
                places(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn place_mut<'a>(value: &'a mut toml::Value, path: &[Step]) -> &'a mut toml::Value {
    path.iter().fold(value, |value, step| match (step, value) {
        (Step::Key(key), toml::Value::Table(table)) => table.get_mut(key).unwrap(),
        (Step::Index(index), toml::Value::Array(items)) => &mut items[*index],
        _ => unreachable!("a place leads through tables and arrays"),
    })
}

/// A real file with one value (or a whole table) replaced.
fn reshaped_scenario() -> impl Strategy<Value = (PathBuf, String)> {
    let files = scenarios().len();
    (0..files, any::<prop::sample::Index>(), any_value()).prop_filter_map(
        "the replaced document must serialise",
        |(file, place, replacement)| {
            let (path, text) = &scenarios()[file];
            let mut document: toml::Value = toml::from_str(text).ok()?;
            let mut found = Vec::new();
            places(&document, &mut Vec::new(), &mut found);
            // Never the root: it must stay a table to serialise.
            let path_to = &found[1 + place.index(found.len() - 1)];
            *place_mut(&mut document, path_to) = replacement;
            let text = toml::to_string(&document).ok()?;
            Some((path.clone(), text))
        },
    )
}

proptest! {
    #![proptest_config(config())]

    /// If this fails, a file that is not TOML at all crashes the harness.
    #[test]
    fn arbitrary_text_never_panics_the_scenario_parser(text in ".{0,400}") {
        check(&text, Path::new("arbitrary.toml"))?;
    }

    /// The same for text made of TOML's and the format's own pieces.
    #[test]
    fn toml_like_text_never_panics_the_scenario_parser(
        tokens in prop::collection::vec(token(), 0..40),
    ) {
        check(&tokens.concat(), Path::new("tokens.toml"))?;
    }

    /// If this fails, a scenario file broken by a bad edit or merge
    /// crashes the harness instead of being named in an error.
    #[test]
    fn a_mangled_scenario_file_never_panics_the_parser(
        (path, text) in mutated_scenario(),
    ) {
        check(&text, &path)?;
    }

    /// If this fails, a well-formed TOML file with a value of the wrong
    /// shape (a table for a string, a huge number, a path that leaves the
    /// project) crashes the harness; these reach the per-step checks.
    #[test]
    fn a_scenario_with_any_value_replaced_never_panics_the_parser(
        (path, text) in reshaped_scenario(),
    ) {
        check(&text, &path)?;
    }
}
