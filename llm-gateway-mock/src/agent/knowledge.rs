//! What the conversation so far tells the agent about the project, rebuilt
//! from its history on every request: the files read (and their text after
//! the edits that succeeded), the files a listing showed, the files that do
//! not exist, the env values set, and every refusal. A refused edit or
//! write makes the file's known text stale, so the recipe reads it again
//! before it touches it.

use std::collections::{BTreeMap, BTreeSet};

use super::conversation::{Action, Attempt, Conversation, Harness, Outcome};

/// What is known of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Its text, as read or as this agent left it.
    Text(String),
    /// It does not exist (a read failed).
    Missing,
    /// It exists but its text is not known (an edit or write was refused,
    /// or an edit succeeded on a file never read).
    Stale,
}

/// The project as the conversation shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knowledge {
    pub files: BTreeMap<String, FileState>,
    /// Every path a listing returned (relative), once any listing ran.
    pub listed: Option<BTreeSet<String>>,
    /// A listing was refused: the recipe reads candidates instead.
    pub listing_refused: bool,
    /// `set_env_values` succeeded.
    pub env_set: bool,
    /// What `detect_package_manager` answered, once called.
    pub package_manager: Option<String>,
    /// Paths this agent changed or created, in order.
    pub changed: Vec<String>,
    /// Each refused action with the harness's reason.
    pub refusals: Vec<(Action, String)>,
    /// Each change the harness made (edits, writes, env values).
    pub succeeded: Vec<Action>,
}

impl Knowledge {
    pub fn of(conversation: &Conversation) -> Knowledge {
        let mut knowledge = Knowledge::default();
        for attempt in &conversation.history {
            knowledge.learn(attempt, conversation.harness);
        }
        if let Some(listed) = knowledge.listed.take() {
            let root = conversation.working_directory.as_deref();
            knowledge.listed = Some(
                listed
                    .into_iter()
                    .map(|path| super::conversation::relative(&path, root))
                    .collect(),
            );
        }
        knowledge
    }

    fn learn(&mut self, attempt: &Attempt, harness: Harness) {
        let Attempt { action, outcome } = attempt;
        match outcome {
            Outcome::Refused(reason) => self.refusals.push((action.clone(), reason.clone())),
            Outcome::Done(_)
                if matches!(
                    action,
                    Action::Edit { .. } | Action::Write { .. } | Action::SetEnv { .. }
                ) =>
            {
                self.succeeded.push(action.clone())
            }
            _ => {}
        }
        match (action, outcome) {
            (_, Outcome::Pending) | (Action::Other { .. }, _) => {}
            (Action::Read { path }, Outcome::Done(text)) => {
                let text = match harness {
                    Harness::ClaudeCode => numbered_text(text),
                    Harness::Pi | Harness::WriteEditOnly => raw_text(text),
                };
                self.files.insert(path.clone(), FileState::Text(text));
            }
            (Action::Read { path }, Outcome::Refused(_)) => {
                self.files.insert(path.clone(), FileState::Missing);
            }
            (Action::List { .. }, Outcome::Done(text)) => {
                let paths = listing_paths(text);
                // An answer naming no file that is not "No files found" is
                // a failure in words (the pi harness's `find` offline:
                // "fd is not available and could not be downloaded").
                if paths.is_empty() && !text.trim().is_empty() && !text.contains("No files") {
                    self.listing_refused = true;
                    return;
                }
                self.listed.get_or_insert_with(BTreeSet::new).extend(paths);
            }
            (Action::List { .. }, Outcome::Refused(_)) => self.listing_refused = true,
            (Action::Edit { path, old, new }, Outcome::Done(_)) => {
                let after = match self.files.get(path) {
                    Some(FileState::Text(text)) if text.contains(old.as_str()) => {
                        FileState::Text(text.replacen(old.as_str(), new, 1))
                    }
                    _ => FileState::Stale,
                };
                self.files.insert(path.clone(), after);
                self.note_changed(path);
            }
            (Action::Write { path, content }, Outcome::Done(_)) => {
                self.files
                    .insert(path.clone(), FileState::Text(content.clone()));
                self.note_changed(path);
            }
            (Action::Edit { path, .. } | Action::Write { path, .. }, Outcome::Refused(_)) => {
                self.files.insert(path.clone(), FileState::Stale);
            }
            (Action::SetEnv { .. }, Outcome::Done(_)) => self.env_set = true,
            (Action::SetEnv { .. }, Outcome::Refused(_)) => {}
            (Action::DetectPackageManager, Outcome::Done(text)) => {
                self.package_manager = Some(text.clone())
            }
            (Action::DetectPackageManager, Outcome::Refused(_)) => {
                self.package_manager = Some(String::new())
            }
        }
    }

    fn note_changed(&mut self, path: &str) {
        if !self.changed.iter().any(|changed| changed == path) {
            self.changed.push(path.to_owned());
        }
        if let Some(listed) = &mut self.listed {
            listed.insert(path.to_owned());
        }
    }

    /// How many times exactly this action was refused.
    pub fn refused_times(&self, action: &Action) -> usize {
        self.refusals
            .iter()
            .filter(|(refused, _)| refused == action)
            .count()
    }

    /// The last reason given for refusing an action on `path`.
    pub fn last_refusal(&self, path: &str) -> Option<&str> {
        self.refusals
            .iter()
            .rev()
            .find(|(action, _)| match action {
                Action::Read { path: p } | Action::Edit { path: p, .. } => p == path,
                Action::Write { path: p, .. } => p == path,
                _ => false,
            })
            .map(|(_, reason)| reason.as_str())
    }
}

/// Claude Code's `Read` answer (`cat -n` style: `12\tline` or `    12→line`)
/// as the file's text; a file it reports empty is empty. An answer without
/// line numbers is taken as the text itself.
pub fn numbered_text(answer: &str) -> String {
    if answer.trim_start().starts_with("<system-reminder>") {
        return String::new();
    }
    let mut lines = Vec::new();
    for line in answer.split('\n') {
        let digits_end = line
            .char_indices()
            .find(|(_, c)| !c.is_ascii_whitespace())
            .map_or(line.len(), |(index, _)| index);
        let rest = &line[digits_end..];
        let number_len = rest.chars().take_while(char::is_ascii_digit).count();
        let after = &rest[number_len..];
        let content = match number_len {
            0 => None,
            _ => after.strip_prefix('\t').or_else(|| after.strip_prefix('→')),
        };
        match content {
            Some(content) => lines.push(content),
            None if lines.is_empty() && !line.is_empty() => return raw_text(answer),
            None => break,
        }
    }
    lines.join("\n")
}

/// The pi harness's `read` answer: the text, without a trailing note the
/// harness adds to a truncated read.
pub fn raw_text(answer: &str) -> String {
    match answer.rfind("\n\n[") {
        Some(index) if answer.trim_end().ends_with(']') && answer[index..].contains("lines") => {
            answer[..index + 1].to_owned()
        }
        _ => answer.to_owned(),
    }
}

/// The file paths of a listing answer: one per line, relative to the
/// working directory (Claude Code's `Glob` answers absolute paths, which
/// the caller makes relative), directories (`ls`'s trailing `/`), notes
/// and sentences left out.
fn listing_paths(answer: &str) -> Vec<String> {
    answer
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.ends_with('/'))
        .filter(|line| line.starts_with('/') || !line.contains(' '))
        .filter(|line| !line.starts_with('(') && !line.starts_with('['))
        .filter(|line| !line.starts_with("No files found"))
        .map(|line| line.trim_start_matches("./").to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_answers_become_the_file_text() {
        let cases: &[(&str, &str)] = &[
            ("1\t{\n2\t  \"a\": 1\n3\t}\n4\t", "{\n  \"a\": 1\n}\n"),
            ("1\tno newline", "no newline"),
            ("     1→one\n     2→two\n", "one\ntwo"),
            (
                "1\tx\n2\t\n\n<system-reminder>\nWhenever you read a file…\n</system-reminder>\n",
                "x\n",
            ),
            (
                "<system-reminder>Warning: the file exists but the contents are empty.</system-reminder>",
                "",
            ),
            ("plain text, no numbers", "plain text, no numbers"),
        ];
        for (answer, expected) in cases {
            assert_eq!(numbered_text(answer), *expected, "{answer:?}");
        }
        assert_eq!(
            raw_text("a\nb\n\n[Showing lines 1-2 of 9. Use offset=3 to continue.]"),
            "a\nb\n"
        );
        assert_eq!(raw_text("a [b]"), "a [b]");
    }

    #[test]
    fn listings_name_files_only() {
        assert_eq!(
            listing_paths("/p/a.ts\n/p/b/c.ts\n(Results are truncated.)\n"),
            vec!["/p/a.ts", "/p/b/c.ts"]
        );
        assert_eq!(listing_paths("No files found"), Vec::<String>::new());
        assert_eq!(
            listing_paths("fd is not available and could not be downloaded"),
            Vec::<String>::new()
        );
        assert_eq!(
            listing_paths("app/\n./package.json\n"),
            vec!["package.json"]
        );
    }
}
