//! The vocabulary of the recipes: a [`Step`] (what to read, what to
//! change, or the summary), the [`Planner`] a task asks about the project,
//! what a task says ([`Task`]), edits of one file computed in order
//! ([`FileEdits`]), and the manifest tasks every recipe of an ecosystem
//! shares.

use protocol::frameworks::FrameworkInfo;

use super::text;

use crate::agent::conversation::Action;
use crate::agent::knowledge::{FileState, Knowledge};

/// The listing pattern that shows the whole project.
pub const EVERY_FILE: &str = "**/*";
/// The SDK versions the recipes add.
pub const POSTHOG_JS_VERSION: &str = "^1.200.0";
pub const POSTHOG_NODE_VERSION: &str = "^4.18.0";
pub const POSTHOG_PYTHON_REQUIREMENT: &str = "posthog>=3.0";
pub const DOTENV_PYTHON_REQUIREMENT: &str = "python-dotenv>=1.0";

/// What the agent does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read or list before deciding.
    Need(Vec<Need>),
    /// Change the project.
    Act(Vec<Act>),
    /// The run is over; the summary for the person.
    Done(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    Read(String),
    List(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    Edit {
        path: String,
        old: String,
        new: String,
    },
    Write {
        path: String,
        content: String,
    },
    SetEnv {
        file: String,
        values: Vec<(String, String)>,
    },
    DetectPackageManager,
}

impl Act {
    /// The action the harness reports back for this act.
    pub fn action(&self) -> Action {
        match self {
            Act::Edit { path, old, new } => Action::Edit {
                path: path.clone(),
                old: old.clone(),
                new: new.clone(),
            },
            Act::Write { path, content } => Action::Write {
                path: path.clone(),
                content: content.clone(),
            },
            Act::SetEnv { file, .. } => Action::SetEnv { file: file.clone() },
            Act::DetectPackageManager => Action::DetectPackageManager,
        }
    }
}

/// What the harness lets the recipe do besides reading and editing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Abilities {
    pub list: bool,
    pub set_env: bool,
    pub detect_package_manager: bool,
    /// The `phc_` token and host the prompt names.
    pub token: Option<String>,
    pub host: Option<String>,
}

/// The recipe was stopped by files it has to read (or list) first; the
/// [`Planner`] holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked;

/// A recipe's task: what it says of the project as known now.
pub type TaskFn = fn(&mut Planner<'_>, &FrameworkInfo) -> Result<Task, Blocked>;

/// What a task says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Already true of the project: the line for the summary.
    Satisfied(String),
    /// The acts that make it true, and the line for the summary.
    Acts(Vec<Act>),
    /// Not done, and why (for the summary).
    Skip(String),
}

/// A recipe's view of the knowledge: answers what is known and gathers
/// what must be read first.
pub struct Planner<'k> {
    pub knowledge: &'k Knowledge,
    pub abilities: &'k Abilities,
    needs: Vec<Need>,
}

impl<'k> Planner<'k> {
    pub fn new(knowledge: &'k Knowledge, abilities: &'k Abilities) -> Planner<'k> {
        Planner {
            knowledge,
            abilities,
            needs: Vec::new(),
        }
    }

    /// Whether the project's listing is known (asking for it if not). A
    /// harness that cannot list answers `Ok(false)`: files are then found
    /// by reading them.
    pub fn listing(&mut self) -> Result<bool, Blocked> {
        if self.knowledge.listed.is_some() {
            return Ok(true);
        }
        if !self.abilities.list || self.knowledge.listing_refused {
            return Ok(false);
        }
        self.needs.push(Need::List(EVERY_FILE.to_owned()));
        Err(Blocked)
    }

    /// The listed files (empty when there is no listing).
    pub fn files(&self) -> Vec<&'k str> {
        self.knowledge
            .listed
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// Whether `path` exists, if known without reading: a listing or an
    /// earlier read or write says so.
    pub fn exists(&self, path: &str) -> Option<bool> {
        match self.knowledge.files.get(path) {
            Some(FileState::Missing) => return Some(false),
            Some(FileState::Text(_) | FileState::Stale) => return Some(true),
            None => {}
        }
        self.knowledge
            .listed
            .as_ref()
            .map(|listed| listed.contains(path))
    }

    /// Asks for every path of `paths` whose text is not known and that may
    /// exist; `Err` when something must be read first.
    pub fn want(&mut self, paths: &[String]) -> Result<(), Blocked> {
        let before = self.needs.len();
        for path in paths {
            let known = matches!(
                self.knowledge.files.get(path),
                Some(FileState::Text(_) | FileState::Missing)
            );
            if !known && self.exists(path) != Some(false) {
                let need = Need::Read(path.clone());
                if !self.needs.contains(&need) {
                    self.needs.push(need);
                }
            }
        }
        match self.needs.len() > before {
            true => Err(Blocked),
            false => Ok(()),
        }
    }

    /// The text of `path` (`None` when it does not exist), reading it first
    /// when needed.
    pub fn read(&mut self, path: &str) -> Result<Option<&'k str>, Blocked> {
        self.want(&[path.to_owned()])?;
        Ok(match self.knowledge.files.get(path) {
            Some(FileState::Text(text)) => Some(text.as_str()),
            _ => None,
        })
    }

    /// The first of `candidates` that exists, reading candidates when the
    /// project cannot be listed.
    pub fn first_existing(&mut self, candidates: &[String]) -> Result<Option<String>, Blocked> {
        for candidate in candidates {
            match self.exists(candidate) {
                Some(true) => return Ok(Some(candidate.clone())),
                Some(false) => continue,
                None => {
                    self.read(candidate)?;
                    if self.exists(candidate) == Some(true) {
                        return Ok(Some(candidate.clone()));
                    }
                }
            }
        }
        Ok(None)
    }

    /// What the recipe asked to read or list before it was stopped.
    pub fn into_needs(self) -> Vec<Need> {
        self.needs
    }
}

/// The SDK dependency in `package.json`, added by an edit anchored on the
/// `"dependencies"` line the agent read.
pub fn npm_dependency(
    planner: &mut Planner<'_>,
    package: &str,
    version: &str,
) -> Result<Task, Blocked> {
    let Some(manifest) = planner.read("package.json")? else {
        return Ok(Task::Skip(format!(
            "add `{package}`: the project has no package.json"
        )));
    };
    if manifest.contains(&format!("\"{package}\"")) {
        return Ok(Task::Satisfied(format!("`{package}` is in package.json")));
    }
    Ok(match text::add_npm_dependency(manifest, package, version) {
        Some((old, new)) => Task::Acts(vec![Act::Edit {
            path: "package.json".to_owned(),
            old,
            new,
        }]),
        None => Task::Skip(format!(
            "add `{package}` to package.json: no place to put it was found"
        )),
    })
}

/// The PostHog SDK (and python-dotenv, which loads the env file) in the
/// project's Python manifest: requirements.txt, else pyproject.toml.
pub fn python_dependencies(planner: &mut Planner<'_>) -> Result<Task, Blocked> {
    let wanted = [POSTHOG_PYTHON_REQUIREMENT, DOTENV_PYTHON_REQUIREMENT];
    if let Some(requirements) = planner.read("requirements.txt")? {
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|requirement| !text::declares_python(requirements, requirement))
            .collect();
        if missing.is_empty() {
            return Ok(Task::Satisfied(
                "`posthog` is in requirements.txt".to_owned(),
            ));
        }
        return Ok(match text::append_lines(requirements, &missing) {
            Some((old, new)) => Task::Acts(vec![Act::Edit {
                path: "requirements.txt".to_owned(),
                old,
                new,
            }]),
            None => Task::Acts(vec![Act::Write {
                path: "requirements.txt".to_owned(),
                content: format!("{}\n", missing.join("\n")),
            }]),
        });
    }
    let Some(pyproject) = planner.read("pyproject.toml")? else {
        return Ok(Task::Acts(vec![Act::Write {
            path: "requirements.txt".to_owned(),
            content: format!("{}\n", wanted.join("\n")),
        }]));
    };
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|requirement| !text::declares_python(pyproject, requirement))
        .collect();
    if missing.is_empty() {
        return Ok(Task::Satisfied("`posthog` is in pyproject.toml".to_owned()));
    }
    Ok(
        match text::add_pyproject_dependencies(pyproject, &missing) {
            Some((old, new)) => Task::Acts(vec![Act::Edit {
                path: "pyproject.toml".to_owned(),
                old,
                new,
            }]),
            None => Task::Skip(
                "add `posthog` to pyproject.toml: no dependency list was found".to_owned(),
            ),
        },
    )
}

/// Edits of one file computed one after another on its text, so each
/// anchors on the text the previous one leaves.
pub struct FileEdits {
    pub path: String,
    pub text: String,
    pub acts: Vec<Act>,
}

impl FileEdits {
    pub fn new(path: &str, text: &str) -> FileEdits {
        FileEdits {
            path: path.to_owned(),
            text: text.to_owned(),
            acts: Vec::new(),
        }
    }

    /// Replaces `old` (which must occur exactly once) with `new`; `false`
    /// when it does not, or when the edit would change nothing.
    pub fn replace(&mut self, old: &str, new: &str) -> bool {
        if old.is_empty() || old == new || self.text.matches(old).count() != 1 {
            return false;
        }
        self.text = self.text.replacen(old, new, 1);
        self.acts.push(Act::Edit {
            path: self.path.clone(),
            old: old.to_owned(),
            new: new.to_owned(),
        });
        true
    }

    /// Applies an `(old, new)` pair if there is one.
    pub fn apply(&mut self, edit: Option<(String, String)>) -> bool {
        match edit {
            Some((old, new)) => self.replace(&old, &new),
            None => false,
        }
    }

    /// The edits made as the task's acts, or, when none could be made, the
    /// task `what` skipped for want of an anchor.
    pub fn into_task(self, what: &str) -> Task {
        match self.acts.is_empty() {
            true => Task::Skip(format!("{what} in `{}`: no anchor found", self.path)),
            false => Task::Acts(self.acts),
        }
    }
}
