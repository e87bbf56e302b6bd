//! The tools the wizard offers the agent, in Claude Code's shapes, and
//! their answers over the staged project (protocol section 7, "The
//! wizard's tools"): `Read`, `Glob`, `Write`, `Edit`, and the published
//! wizard's MCP tools `set_env_values` and `detect_package_manager`. One
//! agent at the gateway can then drive our wizard and the published one
//! alike.
//!
//! Every answer is a `tool_result`: text as Claude Code words it, errors
//! with `is_error` (Claude Code's tools wrap theirs in `<tool_use_error>`;
//! the MCP tools say `Error: …`). As in Claude Code, a failed call is told
//! to the agent and the conversation goes on: a failed `Write`, `Edit` or
//! `set_env_values` is an effect still unmet on its file until a later
//! change of the same file succeeds, and the run writes nothing when the
//! agent ends with one unmet. Any path outside the project and an unknown
//! tool refuse the run outright, and a call repeated after it failed ends
//! the conversation as a refusal: an agent that asks again for what it
//! was just refused is going round in circles.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use protocol::gateway::{
    EditInput, EditOptions, EnvValue, GlobInput, ReadInput, ReadRange, SetEnvValuesInput, Tool,
    WriteInput, TOOL_DETECT_PACKAGE_MANAGER, TOOL_EDIT, TOOL_GLOB, TOOL_READ, TOOL_SET_ENV_VALUES,
    TOOL_WRITE,
};
use serde_json::{json, Value};

use crate::file_search::{self, Pattern};
use crate::framework::Framework;
use crate::package_manager;
use crate::staging::{Refusal, Staging};

/// `Read` shows at most this many lines unless `limit` says otherwise,
/// and cuts longer lines at this many characters, as Claude Code does.
pub const READ_LINE_LIMIT: usize = 2000;
/// `Glob` lists at most this many files.
pub const GLOB_LIMIT: usize = 100;

/// Claude Code's note on a successful `Write` or `Edit`.
const FILE_STATE_NOTE: &str =
    " (file state is current in your context \u{2014} no need to Read it back)";
const NOT_READ_YET: &str = "File has not been read yet. Read it first before writing to it.";

/// One answered call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolAnswer {
    /// The `tool_result`'s `content`: a string, or text blocks for the MCP
    /// tools.
    pub content: Value,
    pub is_error: bool,
    /// What the verbose log says about it (never the file's content).
    pub summary: String,
    /// Whether the call changes the project (`Write`, `Edit`,
    /// `set_env_values`), for the progress line.
    pub edits: bool,
}

/// A failed call: the message the agent hears, and whether it refuses the
/// whole run whatever follows (a path out of the project, an unknown
/// tool); any other failed edit only leaves its file's effect unmet.
struct Failure {
    message: String,
    refuses: bool,
}

impl Failure {
    fn refusing(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            refuses: true,
        }
    }

    fn telling(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            refuses: false,
        }
    }

    /// A refusal of the staging: a path out of the project refuses the
    /// run whatever the tool.
    fn of(refusal: Refusal) -> Failure {
        let refuses = matches!(refusal, Refusal::OutsideProject(..));
        Failure {
            message: refusal.to_string(),
            refuses,
        }
    }
}

/// The staged project and what the conversation has done to it.
pub struct Toolbox {
    staging: Staging,
    framework: Framework,
    /// Files the agent read or wrote: an `Edit` or `Write` of an existing
    /// file needs one (Claude Code's rule).
    seen: BTreeSet<PathBuf>,
    /// Calls that failed, as (name, input).
    failed: Vec<(String, Value)>,
    /// What refuses the run so far, in order: a failed edit keyed by its
    /// file (dropped when a later change of that file succeeds), or an
    /// outright refusal (no key).
    refused: Vec<(Option<PathBuf>, String)>,
    repeated_a_failure: bool,
}

impl Toolbox {
    pub fn new(staging: Staging, framework: Framework) -> Toolbox {
        Toolbox {
            staging,
            framework,
            seen: BTreeSet::new(),
            failed: Vec::new(),
            refused: Vec::new(),
            repeated_a_failure: false,
        }
    }

    /// The project's directory, as the system prompt names it.
    pub fn working_directory(&self) -> String {
        self.staging.root().display().to_string()
    }

    /// Whether the agent asked again for a call that had failed.
    pub fn repeated_a_failure(&self) -> bool {
        self.repeated_a_failure
    }

    /// The staging and what refuses the run: the outright refusals and the
    /// edits still unmet, each as `<tool> <path>: <why>`.
    pub fn finish(self) -> (Staging, Vec<String>) {
        let refused = self.refused.into_iter().map(|(_, shown)| shown).collect();
        (self.staging, refused)
    }

    /// The file a `Write`, `Edit` or `set_env_values` call changes, when
    /// its input names one inside the project.
    fn effect(&self, input: &Value) -> Option<PathBuf> {
        let path = input["file_path"]
            .as_str()
            .or_else(|| input["filePath"].as_str())?;
        self.staging.file(path).ok()
    }

    /// Records what a call came to for the run's verdict: a change of a
    /// file meets its effect; a failed one leaves it unmet (or refuses the
    /// run outright, without a file).
    fn settle(&mut self, file: Option<PathBuf>, refusal: Option<String>) {
        if file.is_some() {
            self.refused.retain(|(unmet, _)| *unmet != file);
        }
        if let Some(shown) = refusal {
            self.refused.push((file, shown));
        }
    }

    /// Answers one `tool_use`.
    pub fn answer(&mut self, name: &str, input: &Value) -> ToolAnswer {
        let what = format!("{name} {}", subject(input));
        let call = (name.to_owned(), input.clone());
        let edits = matches!(name, TOOL_WRITE | TOOL_EDIT | TOOL_SET_ENV_VALUES);
        let outcome = match name {
            TOOL_READ => self.read(input),
            TOOL_GLOB => self.glob(input),
            TOOL_WRITE => self.write(input),
            TOOL_EDIT => self.edit(input),
            TOOL_SET_ENV_VALUES => self.set_env_values(input),
            TOOL_DETECT_PACKAGE_MANAGER => Ok(self.detect_package_manager()),
            other => Err(Failure::refusing(format!(
                "Error: No such tool available: {other}"
            ))),
        };
        let file = match edits {
            true => self.effect(input),
            false => None,
        };
        match outcome {
            Ok((content, summary)) => {
                self.settle(file, None);
                ToolAnswer {
                    content,
                    is_error: false,
                    summary,
                    edits,
                }
            }
            Err(failure) => {
                // The refusals are printed: a secret the agent quoted
                // (an old_string, a path) is masked there.
                let shown =
                    protocol::credential::redact_secrets(&format!("{what}: {}", failure.message));
                if self.failed.contains(&call) {
                    self.repeated_a_failure = true;
                    self.settle(
                        file,
                        Some(format!("{shown} (asked for again after it failed)")),
                    );
                } else if failure.refuses {
                    self.settle(None, Some(shown));
                } else if edits {
                    // Unmet until a later change of the file succeeds;
                    // without a file in the project, never met.
                    self.settle(file, Some(shown));
                }
                self.failed.push(call);
                let content = match name.starts_with("mcp__") {
                    true => json!([{"type": "text", "text": failure.message}]),
                    false => json!(format!(
                        "<tool_use_error>{}</tool_use_error>",
                        failure.message
                    )),
                };
                ToolAnswer {
                    content,
                    is_error: true,
                    summary: format!("refused: {}", first_line(&failure.message)),
                    edits,
                }
            }
        }
    }

    fn read(&mut self, input: &Value) -> Result<(Value, String), Failure> {
        let file: ReadInput = parse(TOOL_READ, input)?;
        let range: ReadRange = parse(TOOL_READ, input)?;
        let relative = self.staging.file(&file.file_path).map_err(Failure::of)?;
        let content = self
            .staging
            .view(&relative)
            .map_err(Failure::of)?
            .ok_or_else(|| {
                Failure::telling(Refusal::Missing(self.working_directory()).to_string())
            })?;
        self.seen.insert(relative);
        let (text, shown) = numbered(&content, range);
        Ok((json!(text), format!("{shown} lines")))
    }

    fn glob(&mut self, input: &Value) -> Result<(Value, String), Failure> {
        let input: GlobInput = parse(TOOL_GLOB, input)?;
        let base = match &input.path {
            Some(path) => self.staging.directory(path).map_err(Failure::of)?,
            None => PathBuf::new(),
        };
        if !self.staging.is_directory(&base) {
            return Err(Failure::telling(format!(
                "Directory does not exist: {}. Note: your current working directory is {}.",
                input.path.as_deref().unwrap_or_default(),
                self.working_directory()
            )));
        }
        // An absolute pattern is read under the project, like any path.
        let (base, pattern) = match input.pattern.starts_with('/') {
            true => {
                let relative = self
                    .staging
                    .directory(&input.pattern)
                    .map_err(Failure::of)?;
                (PathBuf::new(), relative.display().to_string())
            }
            false if input.pattern.split('/').any(|part| part == "..") => {
                return Err(Failure::of(Refusal::OutsideProject(
                    input.pattern.clone(),
                    self.working_directory(),
                )))
            }
            false => (base, input.pattern.clone()),
        };
        let pattern = Pattern::new(&pattern).map_err(Failure::telling)?;
        let mut found = file_search::search(self.staging.root(), &base, &pattern);
        for staged in self.staging.staged_under(&base) {
            let under_base = staged.strip_prefix(&base).unwrap_or(&staged);
            if pattern.matches(under_base) && !found.contains(&staged) {
                found.push(staged);
            }
        }
        found.sort();
        let count = found.len();
        if found.is_empty() {
            return Ok((json!("No files found"), "no files".to_owned()));
        }
        let mut lines: Vec<String> = found
            .iter()
            .take(GLOB_LIMIT)
            .map(|path| path.display().to_string())
            .collect();
        if count > GLOB_LIMIT {
            lines.push(
                "(Results are truncated. Consider using a more specific path or pattern.)"
                    .to_owned(),
            );
        }
        Ok((json!(lines.join("\n")), format!("{count} files")))
    }

    fn write(&mut self, input: &Value) -> Result<(Value, String), Failure> {
        let input: WriteInput = parse(TOOL_WRITE, input)?;
        let relative = self.unseen_file_check(&input.file_path)?;
        let existed = relative.is_some();
        let relative = self
            .staging
            .write(&input.file_path, &input.content)
            .map_err(Failure::of)?;
        self.seen.insert(relative);
        let text = match existed {
            true => format!(
                "The file {} has been updated successfully.{FILE_STATE_NOTE}",
                input.file_path
            ),
            false => format!(
                "File created successfully at: {}{FILE_STATE_NOTE}",
                input.file_path
            ),
        };
        Ok((json!(text), "staged".to_owned()))
    }

    fn edit(&mut self, input: &Value) -> Result<(Value, String), Failure> {
        let options: EditOptions = parse(TOOL_EDIT, input)?;
        let input: EditInput = parse(TOOL_EDIT, input)?;
        self.unseen_file_check(&input.file_path)?;
        let relative = self
            .staging
            .edit(
                &input.file_path,
                &input.old_string,
                &input.new_string,
                options.replace_all == Some(true),
            )
            .map_err(Failure::of)?;
        self.seen.insert(relative);
        Ok((
            json!(format!(
                "The file {} has been updated successfully.{FILE_STATE_NOTE}",
                input.file_path
            )),
            "staged".to_owned(),
        ))
    }

    /// Claude Code's rule for `Write` and `Edit`: a file that exists must
    /// have been read (or written) in this conversation first. Returns the
    /// existing file's relative path, `None` for a new file.
    fn unseen_file_check(&self, path: &str) -> Result<Option<PathBuf>, Failure> {
        let relative = self.staging.file(path).map_err(Failure::of)?;
        let exists = self.staging.view(&relative).map_err(Failure::of)?.is_some();
        match (exists, self.seen.contains(&relative)) {
            (false, _) => Ok(None),
            (true, true) => Ok(Some(relative)),
            (true, false) => Err(Failure::telling(NOT_READ_YET)),
        }
    }

    fn set_env_values(&mut self, input: &Value) -> Result<(Value, String), Failure> {
        let input: SetEnvValuesInput = parse(TOOL_SET_ENV_VALUES, input)?;
        let mut values = Vec::new();
        for (key, value) in &input.values {
            if !env_name(key) {
                return Err(Failure::telling(format!(
                    "Error: \"{key}\" is not a valid environment variable name."
                )));
            }
            match value {
                EnvValue::Literal(text) if text.contains(['\n', '\r', '\0']) => {
                    return Err(Failure::telling(format!(
                        "Error: the value of \"{key}\" must be a single line."
                    )))
                }
                EnvValue::Literal(text) => values.push((key.clone(), text.clone())),
                EnvValue::SecretRef { secret_ref } => {
                    return Err(Failure::telling(format!(
                        "Error: secret reference \"{secret_ref}\" for key \"{key}\" is not known to the vault."
                    )))
                }
            }
        }
        let relative = self.staging.file(&input.file_path).map_err(Failure::of)?;
        let parent = relative.parent().unwrap_or(Path::new(""));
        if !self.staging.is_directory(parent) {
            return Err(Failure::telling(format!(
                "Error: parent directory does not exist: \"{}\".",
                parent.display()
            )));
        }
        self.staging
            .set_env_values(&input.file_path, &values)
            .map_err(Failure::of)?;
        let keys: Vec<&str> = values.iter().map(|(key, _)| key.as_str()).collect();
        Ok((
            json!([{"type": "text", "text": format!("Updated {} key(s) in {}", values.len(), input.file_path)}]),
            format!("staged keys {}", keys.join(", ")),
        ))
    }

    fn detect_package_manager(&self) -> (Value, String) {
        let answer = package_manager::detect(self.staging.root(), &self.framework);
        let text = serde_json::to_string_pretty(&answer).unwrap_or_default();
        let summary = match &answer.primary {
            Some(primary) => format!("primary {}", primary.label),
            None => "none detected".to_owned(),
        };
        (json!([{"type": "text", "text": text}]), summary)
    }
}

/// The tools offered on every turn: Claude Code's names and input schemas
/// as Claude Code sends them (descriptions are ours and short).
pub fn offered() -> Vec<Tool> {
    let draft_2020 = "https://json-schema.org/draft/2020-12/schema";
    let draft_7 = "http://json-schema.org/draft-07/schema#";
    let tool = |name: &str, description: &str, schema: Value| Tool {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        input_schema: schema,
    };
    vec![
        tool(TOOL_READ, "Read a file of the project. Lines are numbered from 1: the number, a tab, then the line.", json!({
            "$schema": draft_2020, "type": "object",
            "properties": {
                "file_path": {"description": "The absolute path to the file to read", "type": "string"},
                "offset": {"description": "The line number to start reading from. Only provide if the file is too large to read at once", "type": "integer", "minimum": 0, "maximum": 9007199254740991u64},
                "limit": {"description": "The number of lines to read. Only provide if the file is too large to read at once.", "type": "integer", "exclusiveMinimum": 0, "maximum": 9007199254740991u64}
            },
            "required": ["file_path"], "additionalProperties": false
        })),
        tool(TOOL_GLOB, "List the project's files matching a glob pattern, one path per line, relative to the working directory.", json!({
            "$schema": draft_2020, "type": "object",
            "properties": {
                "pattern": {"description": "The glob pattern to match files against", "type": "string"},
                "path": {"description": "The directory to search in. If not specified, the current working directory will be used.", "type": "string"}
            },
            "required": ["pattern"], "additionalProperties": false
        })),
        tool(TOOL_WRITE, "Write a file of the project. An existing file must be read first.", json!({
            "$schema": draft_2020, "type": "object",
            "properties": {
                "file_path": {"description": "The absolute path to the file to write (must be absolute, not relative)", "type": "string"},
                "content": {"description": "The content to write to the file", "type": "string"}
            },
            "required": ["file_path", "content"], "additionalProperties": false
        })),
        tool(TOOL_EDIT, "Replace text in a file of the project that was read first.", json!({
            "$schema": draft_2020, "type": "object",
            "properties": {
                "file_path": {"description": "The absolute path to the file to modify", "type": "string"},
                "old_string": {"description": "The text to replace", "type": "string"},
                "new_string": {"description": "The text to replace it with (must be different from old_string)", "type": "string"},
                "replace_all": {"description": "Replace all occurrences of old_string (default false)", "default": false, "type": "boolean"}
            },
            "required": ["file_path", "old_string", "new_string"], "additionalProperties": false
        })),
        tool(TOOL_SET_ENV_VALUES, "Create or update keys in a .env file (created if missing).", json!({
            "type": "object",
            "properties": {
                "filePath": {"type": "string", "description": "Path to the .env file, relative to the wizard working directory."},
                "values": {
                    "type": "object",
                    "additionalProperties": {"anyOf": [
                        {"type": "string"},
                        {"type": "object", "properties": {"secretRef": {"type": "string"}}, "required": ["secretRef"], "additionalProperties": false}
                    ]},
                    "description": "Key \u{2192} (literal string OR { secretRef } pointing to a vaulted secret)"
                }
            },
            "required": ["filePath", "values"], "additionalProperties": false,
            "$schema": draft_7
        })),
        tool(TOOL_DETECT_PACKAGE_MANAGER, "Detect the project's package manager(s) from its lockfiles and manifests.", json!({
            "type": "object", "properties": {}, "$schema": draft_7
        })),
    ]
}

/// Claude Code's `Read` text: each line as its number, a tab and the line,
/// from `offset` (counting from 1) for `limit` lines; a file that ends
/// with a newline shows an empty last line, as Claude Code's does. Returns
/// the text and how many lines it shows.
pub fn numbered(content: &str, range: ReadRange) -> (String, usize) {
    if content.is_empty() {
        return (
            "<system-reminder>Warning: the file exists but the contents are empty.</system-reminder>"
                .to_owned(),
            0,
        );
    }
    let lines: Vec<&str> = content.split('\n').collect();
    let start = usize::try_from(range.offset.unwrap_or(1).max(1)).unwrap_or(usize::MAX);
    if start > lines.len() {
        return (
            format!(
                "<system-reminder>Warning: the file exists but is shorter than the provided offset ({start}). The file has {} lines.</system-reminder>",
                lines.len()
            ),
            0,
        );
    }
    let limit = range
        .limit
        .and_then(|limit| usize::try_from(limit).ok())
        .unwrap_or(READ_LINE_LIMIT);
    let shown: Vec<String> = lines
        .iter()
        .enumerate()
        .skip(start - 1)
        .take(limit)
        .map(|(index, line)| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let line: String = line.chars().take(READ_LINE_LIMIT).collect();
            format!("{}\t{line}", index + 1)
        })
        .collect();
    let count = shown.len();
    (shown.join("\n"), count)
}

fn parse<T: serde::de::DeserializeOwned>(tool: &str, input: &Value) -> Result<T, Failure> {
    serde_json::from_value(input.clone()).map_err(|error| {
        Failure::telling(format!(
            "InputValidationError: {tool} failed due to the following issue: {error}"
        ))
    })
}

/// A name an env file line can set on its own: a letter or `_`, then
/// letters, digits, `_`, `.` or `-` (so no value can add a line).
fn env_name(key: &str) -> bool {
    let mut characters = key.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The path or pattern a call is about, for the log and the refusals.
fn subject(input: &Value) -> String {
    ["file_path", "filePath", "pattern"]
        .iter()
        .find_map(|key| input.get(key).and_then(Value::as_str))
        .unwrap_or("")
        .to_owned()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::NEXT_JS;

    fn project() -> tempfile::TempDir {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        std::fs::create_dir_all(root.join("app")).unwrap();
        std::fs::write(root.join("package.json"), "{\n  \"next\": \"15.3.3\"\n}\n").unwrap();
        std::fs::write(root.join("app/page.tsx"), "a\na\n").unwrap();
        std::fs::write(root.join(".env.local"), "OTHER=1\n").unwrap();
        directory
    }

    fn toolbox(directory: &tempfile::TempDir) -> Toolbox {
        Toolbox::new(Staging::new(directory.path()), NEXT_JS)
    }

    fn text(answer: &ToolAnswer) -> String {
        match &answer.content {
            Value::String(text) => text.clone(),
            blocks => blocks[0]["text"].as_str().unwrap().to_owned(),
        }
    }

    /// The `Read` answers of the recorded Claude Code run, for the same
    /// files of `fixtures/apps/next-js`, byte for byte.
    #[test]
    fn read_answers_are_numbered_as_claude_code_numbers_them() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let recorded: Value = serde_json::from_str(
            &std::fs::read_to_string(
                workspace.join("fixtures/harness/claude-code/08-main-final-answer.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let results: Vec<&Value> = recorded["body"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|message| message["content"].as_array())
            .flatten()
            .filter(|block| block["type"] == "tool_result")
            .collect();
        let app = workspace.join("fixtures/apps/next-js");
        let mut toolbox = Toolbox::new(Staging::new(&app), NEXT_JS);
        for (id, file) in [
            ("toolu_prep_1_1", "package.json"),
            ("toolu_prep_2_1", "app/page.tsx"),
        ] {
            let expected = results
                .iter()
                .find(|block| block["tool_use_id"] == id)
                .unwrap()["content"]
                .as_str()
                .unwrap();
            let path = app.join(file).display().to_string();
            let answer = toolbox.answer(TOOL_READ, &json!({"file_path": path}));
            assert!(!answer.is_error);
            assert_eq!(text(&answer), expected, "{file}");
        }
    }

    #[test]
    fn read_ranges_table() {
        let range = |offset: Option<u64>, limit: Option<u64>| ReadRange { offset, limit };
        let cases: &[(&str, ReadRange, &str)] = &[
            ("a\nb\nc", range(None, None), "1\ta\n2\tb\n3\tc"),
            ("a\nb\nc\n", range(None, None), "1\ta\n2\tb\n3\tc\n4\t"),
            ("a\r\nb\r\n", range(None, None), "1\ta\n2\tb\n3\t"),
            ("a\nb\nc", range(Some(2), None), "2\tb\n3\tc"),
            ("a\nb\nc", range(Some(0), Some(1)), "1\ta"),
            ("a\nb\nc", range(Some(2), Some(1)), "2\tb"),
            ("a\nb\nc", range(Some(3), Some(5)), "3\tc"),
            (
                "a\nb",
                range(Some(9), None),
                "<system-reminder>Warning: the file exists but is shorter than the provided offset (9). The file has 2 lines.</system-reminder>",
            ),
            (
                "",
                range(None, None),
                "<system-reminder>Warning: the file exists but the contents are empty.</system-reminder>",
            ),
        ];
        for (content, range, expected) in cases {
            assert_eq!(
                numbered(content, *range).0,
                *expected,
                "{content:?} {range:?}"
            );
        }
        let long = "x".repeat(READ_LINE_LIMIT + 10);
        assert_eq!(
            numbered(&long, ReadRange::default()).0.len(),
            READ_LINE_LIMIT + 2
        );
        let many = "l\n".repeat(READ_LINE_LIMIT + 5);
        assert_eq!(numbered(&many, ReadRange::default()).1, READ_LINE_LIMIT);
    }

    #[test]
    fn reads_see_the_staged_view_and_edits_need_a_read() {
        let directory = project();
        let root = directory.path().display().to_string();
        let mut toolbox = toolbox(&directory);
        let package = format!("{root}/package.json");
        let edit = json!({"file_path": package, "old_string": "\"next\": \"15.3.3\"", "new_string": "\"next\": \"15.3.3\",\n  \"posthog-js\": \"^1\""});
        // An edit of a file the agent has not read is refused, as Claude
        // Code refuses it; a write over it too.
        let refused = toolbox.answer(TOOL_EDIT, &edit);
        assert!(refused.is_error);
        assert_eq!(
            refused.content,
            json!(format!("<tool_use_error>{NOT_READ_YET}</tool_use_error>"))
        );
        let overwrite = toolbox.answer(
            TOOL_WRITE,
            &json!({"file_path": "app/page.tsx", "content": "x"}),
        );
        assert_eq!(
            text(&overwrite),
            format!("<tool_use_error>{NOT_READ_YET}</tool_use_error>")
        );
        // Read, then edit: the read shows the staged edit.
        assert!(
            !toolbox
                .answer(TOOL_READ, &json!({"file_path": package}))
                .is_error
        );
        let edited = toolbox.answer(TOOL_EDIT, &edit);
        assert_eq!(
            text(&edited),
            format!("The file {package} has been updated successfully.{FILE_STATE_NOTE}")
        );
        let again = toolbox.answer(TOOL_READ, &json!({"file_path": "package.json"}));
        assert_eq!(
            text(&again),
            "1\t{\n2\t  \"next\": \"15.3.3\",\n3\t  \"posthog-js\": \"^1\"\n4\t}\n5\t"
        );
        // A new file needs no read, and is then edited freely.
        let created = toolbox.answer(
            TOOL_WRITE,
            &json!({"file_path": format!("{root}/lib/ph.ts"), "content": "a a"}),
        );
        assert_eq!(
            text(&created),
            format!("File created successfully at: {root}/lib/ph.ts{FILE_STATE_NOTE}")
        );
        let several = toolbox.answer(
            TOOL_EDIT,
            &json!({"file_path": "lib/ph.ts", "old_string": "a", "new_string": "b"}),
        );
        assert!(text(&several).contains("Found 2 matches of the string to replace"));
        let all = toolbox.answer(TOOL_EDIT, &json!({"file_path": "lib/ph.ts", "old_string": "a", "new_string": "b", "replace_all": true}));
        assert!(!all.is_error);
        let missing = toolbox.answer(
            TOOL_EDIT,
            &json!({"file_path": "lib/ph.ts", "old_string": "zzz", "new_string": "b"}),
        );
        assert_eq!(
            text(&missing),
            "<tool_use_error>String to replace not found in file.\nString: zzz</tool_use_error>"
        );
        // The package.json edit and the first lib/ph.ts edit were retried
        // and succeeded; the page was never written, and the last edit of
        // lib/ph.ts failed after its last success.
        let (staging, refused) = toolbox.finish();
        assert_eq!(
            refused,
            [
                format!("Write app/page.tsx: {NOT_READ_YET}"),
                "Edit lib/ph.ts: String to replace not found in file.\nString: zzz".to_owned()
            ]
        );
        assert_eq!(staging.paths(), ["lib/ph.ts", "package.json"]);
        assert_eq!(
            staging.view(Path::new("lib/ph.ts")).unwrap().as_deref(),
            Some("b b")
        );
        // Nothing is on disk until the commit.
        assert!(!directory.path().join("lib/ph.ts").exists());
    }

    /// If this fails, a run whose agent corrected its own failed edit is
    /// refused (Claude Code reports the failure and carries on), or one
    /// whose agent gave up on an edit writes the rest.
    #[test]
    fn a_failed_edit_refuses_the_run_only_when_never_made_after() {
        let directory = project();
        let read = json!({"file_path": "package.json"});
        let wrong = json!({"file_path": "package.json", "old_string": "\"next\": \"15\"", "new_string": "x"});
        let right = json!({"file_path": "package.json", "old_string": "\"next\": \"15.3.3\"", "new_string": "\"next\": \"15.3.3\", \"posthog-js\": \"^1\""});

        // A failed Edit, then a successful retry: nothing refuses the run.
        let mut retried = toolbox(&directory);
        assert!(!retried.answer(TOOL_READ, &read).is_error);
        assert!(retried.answer(TOOL_EDIT, &wrong).is_error);
        assert!(!retried.answer(TOOL_EDIT, &right).is_error);
        assert!(!retried.repeated_a_failure());
        let (staging, refused) = retried.finish();
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(staging.paths(), ["package.json"]);

        // A failed Edit never retried: the run is refused, naming the file.
        let mut given_up = toolbox(&directory);
        assert!(!given_up.answer(TOOL_READ, &read).is_error);
        assert!(given_up.answer(TOOL_EDIT, &wrong).is_error);
        let written = json!({"file_path": "lib/ph.ts", "content": "x"});
        assert!(!given_up.answer(TOOL_WRITE, &written).is_error);
        let (_, refused) = given_up.finish();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].starts_with("Edit package.json: String to replace not found"),
            "{refused:?}"
        );
    }

    #[test]
    fn a_missing_file_is_told_not_refused_but_asking_again_stops_the_agent() {
        let directory = project();
        let root = directory.path().display().to_string();
        let mut toolbox = toolbox(&directory);
        let read = json!({"file_path": format!("{root}/app/missing.tsx")});
        let first = toolbox.answer(TOOL_READ, &read);
        assert!(first.is_error);
        assert_eq!(
            text(&first),
            format!("<tool_use_error>File does not exist. Note: your current working directory is {root}.</tool_use_error>")
        );
        assert!(!toolbox.repeated_a_failure());
        let second = toolbox.answer(TOOL_READ, &read);
        assert!(second.is_error);
        assert!(toolbox.repeated_a_failure());
        let (_, refused) = toolbox.finish();
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].contains("app/missing.tsx: File does not exist"),
            "{refused:?}"
        );
        assert!(refused[0].ends_with("(asked for again after it failed)"));
    }

    #[test]
    fn every_tool_is_confined_to_the_project() {
        let directory = project();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join(".env"), "SECRET=1\n").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), directory.path().join("escape")).unwrap();
        let root = directory.path().display().to_string();
        let outside = elsewhere.path().join(".env").display().to_string();
        let calls = [
            (TOOL_READ, json!({"file_path": outside})),
            (TOOL_READ, json!({"file_path": "../x"})),
            (TOOL_READ, json!({"file_path": format!("{root}/../x")})),
            (TOOL_READ, json!({"file_path": "escape/.env"})),
            (TOOL_GLOB, json!({"pattern": "*", "path": "escape"})),
            (TOOL_GLOB, json!({"pattern": "../*"})),
            (
                TOOL_GLOB,
                json!({"pattern": format!("{}/*", elsewhere.path().display())}),
            ),
            (
                TOOL_WRITE,
                json!({"file_path": "/tmp/x.txt", "content": "x"}),
            ),
            (
                TOOL_WRITE,
                json!({"file_path": "escape/x.txt", "content": "x"}),
            ),
            (
                TOOL_EDIT,
                json!({"file_path": outside, "old_string": "S", "new_string": "T"}),
            ),
            (
                TOOL_SET_ENV_VALUES,
                json!({"filePath": "../.env", "values": {"A": "1"}}),
            ),
            (
                TOOL_SET_ENV_VALUES,
                json!({"filePath": "escape/.env", "values": {"A": "1"}}),
            ),
        ];
        let mut toolbox = toolbox(&directory);
        for (name, input) in &calls {
            let answer = toolbox.answer(name, input);
            assert!(answer.is_error, "{name} {input}");
            assert!(
                text(&answer).contains("is outside the project"),
                "{name} {input}: {}",
                text(&answer)
            );
            assert!(!text(&answer).contains("SECRET"));
        }
        let (staging, refused) = toolbox.finish();
        assert_eq!(refused.len(), calls.len(), "{refused:?}");
        assert!(staging.paths().is_empty());
        // Secrets inside the project may be read.
        let mut toolbox = self::toolbox(&directory);
        assert_eq!(
            text(&toolbox.answer(TOOL_READ, &json!({"file_path": ".env.local"}))),
            "1\tOTHER=1\n2\t"
        );
    }

    #[test]
    fn glob_lists_relative_paths_in_order_with_staged_files() {
        let directory = project();
        let root = directory.path();
        for path in [
            "node_modules/x/page.tsx",
            "src/app/page.tsx",
            ".git/page.tsx",
        ] {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), "x").unwrap();
        }
        let mut toolbox = toolbox(&directory);
        toolbox.answer(
            TOOL_WRITE,
            &json!({"file_path": "pages/page.tsx", "content": "x"}),
        );
        let glob = |toolbox: &mut Toolbox, input: Value| text(&toolbox.answer(TOOL_GLOB, &input));
        assert_eq!(
            glob(&mut toolbox, json!({"pattern": "**/page.tsx"})),
            "app/page.tsx\npages/page.tsx\nsrc/app/page.tsx"
        );
        assert_eq!(
            glob(&mut toolbox, json!({"pattern": "page.tsx", "path": "src"})),
            "src/app/page.tsx"
        );
        assert_eq!(
            glob(
                &mut toolbox,
                json!({"pattern": format!("{}/app/*", root.display())})
            ),
            "app/page.tsx"
        );
        assert_eq!(
            glob(&mut toolbox, json!({"pattern": ".env*"})),
            ".env.local"
        );
        assert_eq!(
            glob(&mut toolbox, json!({"pattern": "*.rb"})),
            "No files found"
        );
        let missing = toolbox.answer(TOOL_GLOB, &json!({"pattern": "*", "path": "nope"}));
        assert!(missing.is_error && text(&missing).contains("Directory does not exist: nope"));
        let (_, refused) = toolbox.finish();
        assert!(refused.is_empty(), "{refused:?}");
    }

    #[test]
    fn set_env_values_merges_into_the_staged_env_file() {
        let directory = project();
        let mut toolbox = toolbox(&directory);
        let answer = toolbox.answer(
            TOOL_SET_ENV_VALUES,
            &json!({"filePath": ".env.local", "values": {"NEXT_PUBLIC_POSTHOG_KEY": "phc_x", "OTHER": "2"}}),
        );
        assert_eq!(
            answer.content,
            json!([{"type": "text", "text": "Updated 2 key(s) in .env.local"}])
        );
        assert!(answer.edits);
        let refused = [
            json!({"filePath": ".env", "values": {"K": {"secretRef": "secret:1"}}}),
            json!({"filePath": "no/such/dir/.env", "values": {"K": "v"}}),
            json!({"filePath": ".env"}),
            json!({"filePath": ".env", "values": {"A\nB": "v"}}),
            json!({"filePath": ".env", "values": {"A": "v\nNEXT_PUBLIC_POSTHOG_KEY=phc_other"}}),
        ];
        for input in &refused {
            let answer = toolbox.answer(TOOL_SET_ENV_VALUES, input);
            assert!(answer.is_error, "{input}");
            assert!(
                text(&answer).starts_with("Error")
                    || text(&answer).starts_with("InputValidationError"),
                "{input}"
            );
        }
        // Each file's last failure stands: none of them was set after.
        let (staging, refused) = toolbox.finish();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].starts_with("mcp__wizard-tools__set_env_values no/such/dir/.env:"));
        assert!(refused[1].starts_with("mcp__wizard-tools__set_env_values .env: Error: the value"));
        assert_eq!(
            staging.view(Path::new(".env.local")).unwrap().as_deref(),
            Some("OTHER=2\nNEXT_PUBLIC_POSTHOG_KEY=phc_x\n")
        );
    }

    #[test]
    fn package_managers_and_unknown_tools() {
        let directory = project();
        std::fs::write(directory.path().join("pnpm-lock.yaml"), "").unwrap();
        let mut toolbox = toolbox(&directory);
        let answer = toolbox.answer(TOOL_DETECT_PACKAGE_MANAGER, &json!({}));
        let parsed: protocol::gateway::PackageManagers =
            serde_json::from_str(&text(&answer)).unwrap();
        assert_eq!(parsed.primary.unwrap().install_command, "pnpm add");
        assert!(
            text(&answer).contains("\n  \"detected\": ["),
            "pretty-printed like JSON.stringify(…, null, 2)"
        );
        let unknown = toolbox.answer("Bash", &json!({"command": "rm -rf /"}));
        assert_eq!(
            text(&unknown),
            "<tool_use_error>Error: No such tool available: Bash</tool_use_error>"
        );
        let (_, refused) = toolbox.finish();
        assert_eq!(refused.len(), 1);
    }

    #[test]
    fn the_offered_tools_are_claude_codes() {
        let offered = offered();
        let names: Vec<&str> = offered.iter().map(|tool| tool.name.as_str()).collect();
        assert_eq!(
            names,
            [
                TOOL_READ,
                TOOL_GLOB,
                TOOL_WRITE,
                TOOL_EDIT,
                TOOL_SET_ENV_VALUES,
                TOOL_DETECT_PACKAGE_MANAGER
            ]
        );
        let required = |name: &str| {
            offered
                .iter()
                .find(|tool| tool.name == name)
                .unwrap()
                .input_schema["required"]
                .clone()
        };
        assert_eq!(required(TOOL_READ), json!(["file_path"]));
        assert_eq!(required(TOOL_GLOB), json!(["pattern"]));
        assert_eq!(
            required(TOOL_EDIT),
            json!(["file_path", "old_string", "new_string"])
        );
        assert_eq!(required(TOOL_SET_ENV_VALUES), json!(["filePath", "values"]));
    }
}
