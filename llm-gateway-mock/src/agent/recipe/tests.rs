//! Each recipe run against small projects held in memory, through the
//! same knowledge the wires build: reads answer from the project, edits
//! apply only when their text occurs once, and the loop ends at `Done`.

use std::collections::BTreeMap;

use protocol::frameworks::{self, FrameworkInfo};

use super::super::conversation::{Action, Attempt, Conversation, Harness, Outcome};
use super::super::knowledge::Knowledge;
use super::*;
use crate::call_kind::CallKind;

/// Runs `framework`'s recipe on `files`; returns the project after the run,
/// the summary and the steps taken. `refuse` names edits (by path) the
/// harness refuses once, as Claude Code does for a file changed behind
/// its back.
fn run(
    framework: &'static FrameworkInfo,
    files: &[(&str, &str)],
    refuse: &[&str],
) -> (BTreeMap<String, String>, String, Vec<Step>) {
    let mut project: BTreeMap<String, String> = files
        .iter()
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect();
    let mut refusals_left: Vec<String> = refuse.iter().map(|path| path.to_string()).collect();
    let mut conversation = Conversation {
        harness: Harness::Pi,
        kind: CallKind::Main,
        working_directory: None,
        framework: Some(framework),
        framework_named: None,
        token: Some("phc_test".to_owned()),
        host: Some("http://localhost:8010".to_owned()),
        offered: Vec::new(),
        history: Vec::new(),
    };
    let abilities = Abilities {
        list: true,
        set_env: true,
        detect_package_manager: true,
        token: conversation.token.clone(),
        host: conversation.host.clone(),
    };
    let mut steps = Vec::new();
    for _ in 0..60 {
        let knowledge = Knowledge::of(&conversation);
        let step = next(framework, &knowledge, &abilities);
        steps.push(step.clone());
        let attempts: Vec<Attempt> = match step {
            Step::Done(summary) => return (project, summary, steps),
            Step::Need(needs) => needs
                .into_iter()
                .map(|need| match need {
                    Need::Read(path) => Attempt {
                        outcome: match project.get(&path) {
                            Some(text) => Outcome::Done(text.clone()),
                            None => Outcome::Refused(format!(
                                "ENOENT: no such file or directory, access '{path}'"
                            )),
                        },
                        action: Action::Read { path },
                    },
                    Need::List(pattern) => Attempt {
                        action: Action::List { pattern },
                        outcome: Outcome::Done(
                            project.keys().cloned().collect::<Vec<_>>().join("\n"),
                        ),
                    },
                })
                .collect(),
            Step::Act(acts) => acts
                .into_iter()
                .map(|act| {
                    let outcome = apply(&mut project, &act, &mut refusals_left);
                    Attempt {
                        action: act.action(),
                        outcome,
                    }
                })
                .collect(),
        };
        conversation.history.extend(attempts);
    }
    panic!("{}: the recipe never finished: {steps:#?}", framework.id);
}

fn apply(
    project: &mut BTreeMap<String, String>,
    act: &Act,
    refusals_left: &mut Vec<String>,
) -> Outcome {
    match act {
        Act::Edit { path, old, new } => {
            if let Some(index) = refusals_left.iter().position(|refused| refused == path) {
                refusals_left.remove(index);
                return Outcome::Refused("File has been modified since read".to_owned());
            }
            let Some(text) = project.get_mut(path) else {
                return Outcome::Refused(format!("Error: no file {path}"));
            };
            if text.matches(old.as_str()).count() != 1 {
                return Outcome::Refused(format!("Error: could not find the text in {path}"));
            }
            *text = text.replacen(old.as_str(), new, 1);
            Outcome::Done("ok".to_owned())
        }
        Act::Write { path, content } => {
            project.insert(path.clone(), content.clone());
            Outcome::Done("ok".to_owned())
        }
        Act::SetEnv { file, values } => {
            let lines: String = values
                .iter()
                .map(|(key, value)| format!("{key}={value}\n"))
                .collect();
            project.entry(file.clone()).or_default().push_str(&lines);
            Outcome::Done("ok".to_owned())
        }
        Act::DetectPackageManager => Outcome::Done("npm".to_owned()),
    }
}

fn check(
    framework: &'static FrameworkInfo,
    files: &[(&str, &str)],
    expected: &[(&str, &str)],
) -> String {
    let (project, summary, _) = run(framework, files, &[]);
    for (path, needle) in expected {
        let text = project
            .get(*path)
            .unwrap_or_else(|| panic!("{}: no {path} after the run:\n{summary}", framework.id));
        assert!(
            text.contains(needle),
            "{}: {path} lacks {needle:?}:\n{text}",
            framework.id
        );
    }
    summary
}

const NEXT_PAGE: &str = "'use client';\n\nimport { useState } from 'react';\n\nexport default function Home() {\n  const [n, setN] = useState(0);\n  return <button onClick={() => setN(n + 1)}>{n}</button>;\n}\n";

#[test]
fn next_js_picks_instrumentation_client_provider_or_app_by_version_and_router() {
    let manifest =
        |next: &str| format!("{{\n  \"dependencies\": {{\n    \"next\": \"{next}\"\n  }}\n}}\n");
    let new = manifest("15.3.3");
    check(
        &frameworks::NEXT_JS,
        &[
            ("package.json", &new),
            ("tsconfig.json", "{}"),
            ("src/app/layout.tsx", "x\n"),
            ("src/app/page.tsx", NEXT_PAGE),
        ],
        &[
            ("package.json", "\"posthog-js\""),
            (
                "src/instrumentation-client.ts",
                "posthog.init(process.env.NEXT_PUBLIC_POSTHOG_KEY!",
            ),
            ("src/app/page.tsx", "posthog.capture('button_clicked')"),
            (".env.local", "NEXT_PUBLIC_POSTHOG_KEY=phc_test"),
        ],
    );
    let old = manifest("^14.2.5");
    check(
        &frameworks::NEXT_JS,
        &[
            ("package.json", &old),
            ("app/layout.js", "export default function RootLayout({ children }) {\n  return <html><body>{children}</body></html>;\n}\n"),
        ],
        &[
            ("app/providers.jsx", "posthog.init(process.env.NEXT_PUBLIC_POSTHOG_KEY, {"),
            ("app/layout.js", "<PostHogProvider>{children}</PostHogProvider>"),
            ("app/layout.js", "import { PostHogProvider } from './providers';"),
        ],
    );
    check(
        &frameworks::NEXT_JS,
        &[
            ("package.json", &old),
            (
                "pages/index.js",
                "export default function Home() {\n  function save() {\n    return 1;\n  }\n}\n",
            ),
        ],
        &[
            ("pages/_app.jsx", "<PostHogProvider client={posthog}>"),
            ("pages/index.js", "posthog.capture('save');"),
        ],
    );
}

#[test]
fn react_vite_initialises_in_the_entry_and_captures_in_a_handler() {
    check(
        &frameworks::REACT_VITE,
        &[
            ("package.json", "{\n  \"dependencies\": {\n    \"react\": \"^18\"\n  }\n}\n"),
            ("src/main.jsx", "import React from 'react';\nimport ReactDOM from 'react-dom/client';\nimport App from './App.jsx';\n\nReactDOM.createRoot(document.getElementById('root')).render(\n  <React.StrictMode>\n    <App />\n  </React.StrictMode>,\n);\n"),
            ("src/App.jsx", "export default function App() {\n  const onAdd = () => {\n    return 1;\n  };\n}\n"),
        ],
        &[
            ("src/main.jsx", "posthog.init(import.meta.env.VITE_PUBLIC_POSTHOG_KEY"),
            ("src/main.jsx", "      <App />\n    </PostHogProvider>"),
            ("src/App.jsx", "posthog.capture('on_add');"),
        ],
    );
}

#[test]
fn django_finds_split_settings_and_the_local_app() {
    check(
        &frameworks::DJANGO,
        &[
            ("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\n    \"Django>=4.2\",\n]\n"),
            ("manage.py", "import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"config.settings.dev\")\n"),
            ("config/settings/base.py", "from pathlib import Path\n\nBASE_DIR = Path(__file__).resolve().parent.parent.parent\n\nINSTALLED_APPS = [\n    \"django.contrib.auth\",\n    \"shop.apps.ShopConfig\",\n]\n"),
            ("config/settings/dev.py", "from .base import *\n"),
            ("shop/apps.py", "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n    name = \"shop\"\n"),
            ("shop/views.py", "from django.http import HttpResponse\n\n\ndef add_item(request):\n    return HttpResponse(\"ok\")\n"),
        ],
        &[
            ("pyproject.toml", "\"posthog>=3.0\""),
            ("config/settings/base.py", "load_dotenv(BASE_DIR / \".env\")"),
            ("shop/apps.py", "    def ready(self):\n        posthog.api_key = os.environ[\"POSTHOG_API_KEY\"]"),
            ("shop/views.py", "    posthog.capture(distinct_id=request.META.get(\"REMOTE_ADDR\", \"anonymous\"), event=\"add_item\")"),
        ],
    );
}

#[test]
fn flask_configures_a_factory_and_captures_in_a_blueprint() {
    check(
        &frameworks::FLASK,
        &[
            ("requirements.txt", "flask\n"),
            ("acme/__init__.py", "from flask import Flask\n\n\ndef create_app():\n    app = Flask(__name__)\n    return app\n"),
            ("acme/notes.py", "from flask import Blueprint, request\n\nbp = Blueprint(\"notes\", __name__)\n\n\n@bp.post(\"/notes\")\ndef create_note():\n    return \"\", 201\n"),
        ],
        &[
            ("requirements.txt", "posthog>=3.0\npython-dotenv>=1.0\n"),
            ("acme/__init__.py", "def create_app():\n    load_dotenv()\n    posthog.api_key = os.environ[\"POSTHOG_API_KEY\"]"),
            ("acme/notes.py", "    posthog.capture(distinct_id=request.remote_addr or \"anonymous\", event=\"create_note\")"),
        ],
    );
}

#[test]
fn express_creates_a_client_captures_and_flushes() {
    check(
        &frameworks::EXPRESS,
        &[
            ("package.json", "{\n  \"type\": \"module\",\n  \"scripts\": {\n    \"start\": \"node server.mjs\"\n  },\n  \"dependencies\": {\n    \"express\": \"^5\"\n  }\n}\n"),
            ("server.mjs", "import express from 'express';\n\nconst app = express();\n\napp.post('/orders', (req, res) => {\n  res.sendStatus(201);\n});\n\napp.listen(3000);\n"),
        ],
        &[
            ("server.mjs", "import { PostHog } from 'posthog-node';"),
            ("server.mjs", "posthog.capture({ distinctId: req.ip ?? 'anonymous', event: 'orders_posted' });"),
            ("server.mjs", "await posthog.shutdown();"),
            ("package.json", "\"start\": \"node --env-file=.env server.mjs\""),
        ],
    );
}

/// If this fails, a refused edit derails the run: the agent must read the
/// file again and retry, and give up (saying so) after a second refusal.
#[test]
fn a_refused_edit_is_read_again_then_given_up_and_reported() {
    let files = [
        ("requirements.txt", "flask\n"),
        ("app.py", "from flask import Flask, request\n\napp = Flask(__name__)\n\n\n@app.post(\"/x\")\ndef create_x():\n    return \"\"\n"),
    ];
    let (project, summary, steps) = run(&frameworks::FLASK, &files, &["app.py"]);
    let reread = steps.windows(2).any(|pair| {
        matches!(&pair[0], Step::Act(acts) if acts.iter().any(|act| matches!(act, Act::Edit { path, .. } if path == "app.py")))
            && pair[1] == Step::Need(vec![Need::Read("app.py".to_owned())])
    });
    assert!(
        reread,
        "a refused edit is followed by a read of the file: {steps:#?}"
    );
    assert!(
        project["app.py"].contains("posthog.capture("),
        "{}",
        project["app.py"]
    );

    let (project, summary_twice, _) = run(
        &frameworks::FLASK,
        &files,
        &["app.py", "app.py", "app.py", "app.py"],
    );
    // Both edits of the initialisation were refused twice: given up; the
    // capture, a later task, still went in.
    assert!(
        !project["app.py"].contains("POSTHOG_API_KEY"),
        "{}",
        project["app.py"]
    );
    assert!(
        summary_twice.contains("Not done:") && summary_twice.contains("refused twice"),
        "{summary_twice}"
    );
    assert!(
        project[".env"].contains("POSTHOG_API_KEY=phc_test"),
        "the rest of the plan still runs"
    );
    assert!(!summary.contains("Not done:"), "{summary}");
}

/// If this fails, an edit the harness reported as made, but which a later
/// read shows did not happen, is asked for again and again: the run never
/// ends.
#[test]
fn a_change_that_does_not_take_effect_is_not_asked_for_again() {
    let manifest = "{\n  \"dependencies\": {\n    \"express\": \"^4\"\n  }\n}\n";
    let read = |text: &str| Attempt {
        action: Action::Read {
            path: "package.json".to_owned(),
        },
        outcome: Outcome::Done(text.to_owned()),
    };
    let (old, new) =
        text::add_npm_dependency(manifest, "posthog-node", POSTHOG_NODE_VERSION).unwrap();
    let edit = Attempt {
        action: Action::Edit {
            path: "package.json".to_owned(),
            old,
            new,
        },
        outcome: Outcome::Done("ok".to_owned()),
    };
    let conversation = Conversation {
        harness: Harness::Pi,
        kind: CallKind::Main,
        working_directory: None,
        framework: Some(&frameworks::EXPRESS),
        framework_named: None,
        token: None,
        host: None,
        offered: Vec::new(),
        history: vec![read(manifest), edit, read(manifest)],
    };
    let abilities = Abilities::default();
    let step = next(
        &frameworks::EXPRESS,
        &Knowledge::of(&conversation),
        &abilities,
    );
    // The manifest task is given up and the recipe moves on to the app.
    assert_eq!(
        step,
        Step::Need(vec![Need::Read("src/index.js".to_owned())])
    );
}
