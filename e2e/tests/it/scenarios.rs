//! Every scenario file in `fixtures/scenarios/` parses; if one did not,
//! `cargo run -p e2e` would stop before running anything.

use std::path::PathBuf;

use e2e::integrated::IntegratedProject;
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

/// Every sample app has a checklist beside it that parses, and every
/// checklist names an app; without one, a scenario with
/// `project = "integrated"` on that app would fail at set-up.
#[test]
fn every_app_has_an_integration_checklist() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures");
    let apps = fixtures.join("apps");
    let mut app_names = Vec::new();
    let mut checklist_names = Vec::new();
    for entry in std::fs::read_dir(&apps).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        match name.strip_suffix(".integrated.toml") {
            Some(app) => checklist_names.push(app.to_owned()),
            None if path.is_dir() => app_names.push(name),
            None => panic!("unexpected file {} in {}", name, apps.display()),
        }
    }
    app_names.sort();
    checklist_names.sort();
    assert_eq!(
        app_names, checklist_names,
        "apps and checklists must pair up"
    );
    for app in &app_names {
        let loaded = IntegratedProject::load(&fixtures, app);
        assert!(loaded.is_ok(), "{:#}", loaded.unwrap_err());
    }
    for scenario in scenario::load_all(&fixtures.join("scenarios")).unwrap() {
        // A scenario of [[steps]] alone runs no wizard and needs no app.
        let Some(wizard) = &scenario.wizard else {
            continue;
        };
        assert!(
            app_names.contains(&wizard.app),
            "{}: no app {:?}",
            scenario.name,
            wizard.app
        );
    }
}

#[test]
fn every_framework_has_a_signup_scenario() {
    let names: Vec<String> = scenario::load_all(&scenario_dir())
        .unwrap()
        .into_iter()
        .map(|scenario| scenario.name)
        .collect();
    for name in [
        "signup-current-wizard-current-server",
        "signup-react-vite",
        "signup-django",
        "signup-flask",
        "signup-express",
    ] {
        assert!(names.iter().any(|found| found == name), "missing {name}");
    }
}
