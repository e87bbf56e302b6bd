//! Every scenario file in `fixtures/scenarios/` parses; if one did not,
//! `cargo run -p e2e` would stop before running anything.

use std::path::PathBuf;

use e2e::scenario::{self, Scenario};

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join("scenarios")
}

#[test]
fn every_scenario_file_parses() {
    let dir = scenario_dir();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            let parsed = Scenario::load(&path);
            assert!(parsed.is_ok(), "{:#}", parsed.unwrap_err());
            count += 1;
        }
    }
    assert!(
        count >= 5,
        "expected at least 5 scenarios in {}",
        dir.display()
    );
    let all = scenario::load_all(&dir).unwrap();
    assert_eq!(all.len(), count);
}

#[test]
fn the_four_cells_of_the_scope_bug_are_present() {
    let names: Vec<String> = scenario::load_all(&scenario_dir())
        .unwrap()
        .into_iter()
        .map(|scenario| scenario.name)
        .collect();
    for name in [
        "scope-bug-legacy-wizard-legacy-server",
        "scope-fix-client-current-wizard-legacy-server",
        "scope-fix-server-legacy-wizard-current-server",
        "signup-current-wizard-current-server",
    ] {
        assert!(names.iter().any(|found| found == name), "missing {name}");
    }
}
