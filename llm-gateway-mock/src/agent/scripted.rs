//! Scripted plays, for the clients a recipe cannot serve: a Messages API
//! client that offers only `Write` and `Edit` (it cannot show the agent a
//! file, so the agent plays the fixed script of the framework's sample app
//! in `fixtures/agent/`), and the hostile plays a test loads with
//! `--agent-dir` (paths outside the project, files that do not exist).
//!
//! A script is a list of turns; each turn is assistant text plus Claude
//! Code's file tools (`Write`, `Edit`). The turn to play is the number of
//! assistant messages already in the conversation, so the agent keeps no
//! state between requests: the transcript is the state.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use protocol::gateway::{
    ContentBlock, EditInput, Message, MessageContent, MessagesRequest, ReadInput, WriteInput,
    TOOL_EDIT, TOOL_READ, TOOL_SET_ENV_VALUES, TOOL_WRITE,
};
use serde::Deserialize;

use super::render_claude::Reply;
use crate::harness::{self, Harness};

/// The scripts embedded in the binary: (file name, TOML text).
pub const EMBEDDED_SCRIPTS: &[(&str, &str)] = &[
    (
        "next-js.toml",
        include_str!("../../../fixtures/agent/next-js.toml"),
    ),
    (
        "react-vite.toml",
        include_str!("../../../fixtures/agent/react-vite.toml"),
    ),
    (
        "django.toml",
        include_str!("../../../fixtures/agent/django.toml"),
    ),
    (
        "flask.toml",
        include_str!("../../../fixtures/agent/flask.toml"),
    ),
    (
        "express.toml",
        include_str!("../../../fixtures/agent/express.toml"),
    ),
];

/// One framework's play, as written in `fixtures/agent/<framework>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The id the wizard names in its `framework: <id>` line; equal to the
    /// file's stem.
    pub framework: String,
    /// What a person calls the framework.
    pub name: String,
    pub turns: Vec<Turn>,
    /// The text of the last answer, sent with `stop_reason: "end_turn"`.
    pub final_text: String,
    /// A deliberately hostile script (paths outside the project, absolute
    /// paths): loaded as written, to test that the wizard refuses it. Only
    /// an explicit `hostile = true` lifts the path check, so a typo in an
    /// ordinary script is still caught at start-up.
    #[serde(default)]
    pub hostile: bool,
}

/// One assistant answer that asks for tool calls.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    pub text: String,
    pub tools: Vec<ScriptTool>,
}

/// A tool call of a turn; its fields are the tool's input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "tool")]
pub enum ScriptTool {
    Write(WriteInput),
    Edit(EditInput),
}

impl ScriptTool {
    pub fn name(&self) -> &'static str {
        match self {
            ScriptTool::Write(_) => TOOL_WRITE,
            ScriptTool::Edit(_) => TOOL_EDIT,
        }
    }

    pub fn file_path(&self) -> &str {
        match self {
            ScriptTool::Write(input) => &input.file_path,
            ScriptTool::Edit(input) => &input.file_path,
        }
    }

    pub fn input(&self) -> serde_json::Value {
        let value = match self {
            ScriptTool::Write(input) => serde_json::to_value(input),
            ScriptTool::Edit(input) => serde_json::to_value(input),
        };
        value.unwrap_or(serde_json::Value::Null)
    }
}

/// Every loaded script, by framework id.
#[derive(Debug, Clone, Default)]
pub struct Scripts {
    by_framework: BTreeMap<String, Script>,
    /// Loaded with `--agent-dir`: every Messages conversation plays them,
    /// whatever the harness offers.
    pub from_dir: bool,
}

impl Scripts {
    /// The scripts compiled into the binary.
    pub fn embedded() -> anyhow::Result<Scripts> {
        Scripts::from_files(
            EMBEDDED_SCRIPTS
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string())),
        )
    }

    /// Every `*.toml` file of `dir`.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Scripts> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the agent directory {}", dir.display()))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot read the agent directory {}", dir.display()))?
                .path();
            if path.extension().and_then(|ext| ext.to_str()) != Some("toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read agent script {}", path.display()))?;
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or_default()
                .to_owned();
            files.push((name, text));
        }
        files.sort();
        let mut scripts = Scripts::from_files(files)?;
        scripts.from_dir = true;
        if scripts.by_framework.is_empty() {
            bail!(
                "the agent directory {} holds no *.toml script",
                dir.display()
            );
        }
        Ok(scripts)
    }

    /// Parses and checks `(file name, text)` pairs; an error names the file.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Scripts> {
        let mut by_framework = BTreeMap::new();
        for (file_name, text) in files {
            let script = parse_script(&file_name, &text)
                .with_context(|| format!("bad agent script {file_name}"))?;
            by_framework.insert(script.framework.clone(), script);
        }
        Ok(Scripts {
            by_framework,
            from_dir: false,
        })
    }

    pub fn get(&self, framework: &str) -> Option<&Script> {
        self.by_framework.get(framework)
    }

    /// The known framework ids, sorted.
    pub fn frameworks(&self) -> Vec<&str> {
        self.by_framework.keys().map(String::as_str).collect()
    }
}

fn parse_script(file_name: &str, text: &str) -> anyhow::Result<Script> {
    let script: Script = toml::from_str(text)?;
    let stem = file_name.strip_suffix(".toml").unwrap_or(file_name);
    if script.framework != stem {
        bail!(
            "framework {:?} does not match the file name (expected {stem:?})",
            script.framework
        );
    }
    if script.turns.is_empty() {
        bail!("the script has no turns");
    }
    for (index, turn) in script.turns.iter().enumerate() {
        if turn.tools.is_empty() {
            bail!("turn {} has no tools", index + 1);
        }
        for tool in turn.tools.iter().filter(|_| !script.hostile) {
            let path = tool.file_path();
            if path.is_empty() || path.starts_with('/') || path.split('/').any(|part| part == "..")
            {
                bail!(
                    "turn {}: file_path {path:?} must be relative to the project root",
                    index + 1
                );
            }
        }
    }
    Ok(script)
}

/// Tool calls the agent adds for the harness (a `Read` before an `Edit`,
/// the wizard's env tool) carry ids with this prefix, so the turn that
/// holds them is not counted as a played script turn.
pub const PREPARATION_ID_PREFIX: &str = "toolu_prep_";

/// Plays the next turn of the conversation in `request`, for the
/// framework named in its first user message.
pub fn reply(scripts: &Scripts, request: &MessagesRequest) -> Reply {
    let conversation = super::conversation::Conversation::from_messages(request, None);
    reply_with(
        scripts,
        request,
        conversation.framework.map(|framework| framework.id),
    )
}

/// Plays the next turn of the conversation in `request` for `framework`
/// (an id of `protocol::frameworks`, as the conversation names it).
///
/// The script turn to play is the number of assistant turns so far, not
/// counting the preparation turns the agent added for the harness. A turn
/// is rendered for the harness (see [`crate::harness`]): when it offers
/// `Read`, a file about to be edited is read first unless the conversation
/// already holds a fresh view of it; when it names its working directory,
/// paths are absolute under it; when it offers the wizard's
/// `set_env_values` and the script names its env variables, the key and
/// host of the prompt are set through it before the final answer.
pub fn reply_with(scripts: &Scripts, request: &MessagesRequest, framework: Option<&str>) -> Reply {
    let messages = &request.messages;
    let played = messages
        .iter()
        .filter(|message| message.role == "assistant")
        .filter(|message| !is_preparation(message))
        .count();
    let known = || scripts.frameworks().join(", ");
    let framework = match framework {
        Some(framework) => framework.to_owned(),
        None => {
            return end_turn(
                "msg_unknown_framework".to_owned(),
                format!(
                    "I could not find a `framework: <id>` line in the first user message, so I \
                     do not know which integration to write. Frameworks I know: {}.",
                    known()
                ),
            )
        }
    };
    let script = match scripts.get(&framework) {
        Some(script) => script,
        None => {
            return end_turn(
                "msg_unknown_framework".to_owned(),
                format!(
                    "I have no script for the framework {framework:?}. Frameworks I know: {}.",
                    known()
                ),
            )
        }
    };
    let harness = Harness::of(request);
    let turn_number = played + 1;
    let id = format!("msg_{}_{turn_number}", script.framework);
    let Some(turn) = script.turns.get(played) else {
        return match env_turn(script, &harness, messages) {
            Some(content) => Reply {
                id: format!("{id}_env"),
                content,
                stop_reason: "tool_use",
            },
            None => end_turn(id, script.final_text.clone()),
        };
    };
    if let Some(content) = read_turn(turn, &harness, messages, turn_number) {
        return Reply {
            id: format!("{id}_read"),
            content,
            stop_reason: "tool_use",
        };
    }
    let mut content = vec![ContentBlock::Text {
        text: turn.text.clone(),
    }];
    for (index, tool) in turn.tools.iter().enumerate() {
        let mut input = tool.input();
        input["file_path"] = harness.path(tool.file_path()).into();
        content.push(ContentBlock::ToolUse {
            id: format!("toolu_{turn_number}_{}", index + 1),
            name: tool.name().to_owned(),
            input,
        });
    }
    Reply {
        id,
        content,
        stop_reason: "tool_use",
    }
}

fn is_preparation(message: &Message) -> bool {
    match &message.content {
        MessageContent::Blocks(blocks) => blocks.iter().any(|block| {
            matches!(block, ContentBlock::ToolUse { id, .. } if id.starts_with(PREPARATION_ID_PREFIX))
        }),
        MessageContent::Text(_) => false,
    }
}

/// A turn of `Read`s of the files `turn` edits that the harness has no
/// fresh view of, when it offers `Read`.
fn read_turn(
    turn: &Turn,
    harness: &Harness,
    messages: &[Message],
    turn_number: usize,
) -> Option<Vec<ContentBlock>> {
    if !harness.offers(TOOL_READ) {
        return None;
    }
    let fresh = harness::fresh_files(messages);
    let mut unread: Vec<String> = Vec::new();
    for tool in &turn.tools {
        let path = harness.path(tool.file_path());
        if matches!(tool, ScriptTool::Edit(_)) && !fresh.contains(&path) && !unread.contains(&path)
        {
            unread.push(path);
        }
    }
    if unread.is_empty() {
        return None;
    }
    let mut content = vec![ContentBlock::Text {
        text: "First I'll read the files I'm about to change.".to_owned(),
    }];
    for (index, path) in unread.into_iter().enumerate() {
        content.push(ContentBlock::ToolUse {
            id: format!("{PREPARATION_ID_PREFIX}{turn_number}_{}", index + 1),
            name: TOOL_READ.to_owned(),
            input: serde_json::to_value(ReadInput { file_path: path }).unwrap_or_default(),
        });
    }
    Some(content)
}

/// The call of the wizard's `set_env_values` with the prompt's public key
/// and host, when the harness offers it, the script names its variables,
/// the prompt holds both values and no such call was made yet.
fn env_turn(script: &Script, harness: &Harness, messages: &[Message]) -> Option<Vec<ContentBlock>> {
    let env = protocol::frameworks::by_id(&script.framework)?;
    // One attempt: a refused call is not retried.
    let attempted = harness::tool_calls(messages).any(|(_, name, _)| name == TOOL_SET_ENV_VALUES);
    if !harness.offers(TOOL_SET_ENV_VALUES) || attempted {
        return None;
    }
    let key = harness::prompt_fact(messages, "PostHog public token")?;
    let host = harness::prompt_fact(messages, "PostHog Host")?;
    Some(vec![
        ContentBlock::Text {
            text: format!(
                "Now I'll put the project's public key and host in `{}`.",
                env.env_file
            ),
        },
        ContentBlock::ToolUse {
            id: format!("{PREPARATION_ID_PREFIX}env_1"),
            name: TOOL_SET_ENV_VALUES.to_owned(),
            input: serde_json::json!({
                "filePath": env.env_file,
                "values": {env.key_variable: key, env.host_variable: host},
            }),
        },
    ])
}

fn end_turn(id: String, text: String) -> Reply {
    Reply {
        id,
        content: vec![ContentBlock::Text { text }],
        stop_reason: "end_turn",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::gateway::MessageContent;

    fn request(messages: Vec<Message>) -> MessagesRequest {
        MessagesRequest {
            model: "claude-test".to_owned(),
            max_tokens: 1024,
            system: None,
            messages,
            tools: Vec::new(),
            stream: None,
            output_config: None,
        }
    }

    fn user(text: &str) -> Message {
        Message {
            role: "user".to_owned(),
            content: MessageContent::Text(text.to_owned()),
        }
    }

    fn assistant() -> Message {
        Message {
            role: "assistant".to_owned(),
            content: MessageContent::Text("ok".to_owned()),
        }
    }

    #[test]
    fn embedded_scripts_load() {
        let scripts = Scripts::embedded().expect("the embedded scripts must parse");
        assert_eq!(
            scripts.frameworks(),
            vec!["django", "express", "flask", "next-js", "react-vite"]
        );
        for framework in scripts.frameworks() {
            assert!(
                scripts.get(framework).unwrap().turns.len() >= 2,
                "{framework}: a script plays at least two turns"
            );
        }
    }

    #[test]
    fn bad_scripts_are_refused_with_the_file_name() {
        let cases: &[(&str, &str, &str)] = &[
            ("broken.toml", "framework = ", "bad agent script broken.toml"),
            (
                "flask.toml",
                "framework = \"django\"\nname = \"x\"\nfinal_text = \"x\"\n[[turns]]\ntext = \"t\"\n[[turns.tools]]\ntool = \"Write\"\nfile_path = \"a\"\ncontent = \"b\"\n",
                "does not match the file name",
            ),
            (
                "flask.toml",
                "framework = \"flask\"\nname = \"x\"\nfinal_text = \"x\"\nturns = []\n",
                "no turns",
            ),
            (
                "flask.toml",
                "framework = \"flask\"\nname = \"x\"\nfinal_text = \"x\"\n[[turns]]\ntext = \"t\"\n[[turns.tools]]\ntool = \"Write\"\nfile_path = \"../etc/passwd\"\ncontent = \"b\"\n",
                "relative to the project root",
            ),
            (
                "flask.toml",
                "framework = \"flask\"\nname = \"x\"\nfinal_text = \"x\"\n[[turns]]\ntext = \"t\"\n[[turns.tools]]\ntool = \"Bash\"\ncommand = \"rm -rf /\"\n",
                "bad agent script flask.toml",
            ),
        ];
        for (name, text, expected) in cases {
            let error = Scripts::from_files([(name.to_string(), text.to_string())])
                .expect_err("a bad script must be a startup error");
            let message = format!("{error:#}");
            assert!(message.contains(expected), "{name}: {message}");
        }
    }

    #[test]
    fn only_a_script_marked_hostile_may_leave_the_project() {
        let hostile = "framework = \"flask\"\nname = \"x\"\nfinal_text = \"x\"\nhostile = true\n[[turns]]\ntext = \"t\"\n[[turns.tools]]\ntool = \"Write\"\nfile_path = \"../outside.txt\"\ncontent = \"b\"\n";
        let scripts =
            Scripts::from_files([("flask.toml".to_string(), hostile.to_string())]).unwrap();
        assert!(scripts.get("flask").unwrap().hostile);
        let unmarked = hostile.replace("hostile = true\n", "");
        assert!(Scripts::from_files([("flask.toml".to_string(), unmarked)]).is_err());
        let malicious = include_str!("../../../fixtures/agent/malicious/next-js.toml");
        assert!(Scripts::from_files([("next-js.toml".to_string(), malicious.to_string())]).is_ok());
    }

    #[test]
    fn turn_selection_counts_assistant_messages() {
        let scripts = Scripts::embedded().unwrap();
        let script = scripts.get("next-js").unwrap();
        let mut messages = vec![user("Integrate PostHog.\nframework: next-js")];
        for turn in 0..script.turns.len() {
            let reply = reply(&scripts, &request(messages.clone()));
            assert_eq!(reply.stop_reason, "tool_use", "turn {turn}");
            assert_eq!(reply.id, format!("msg_next-js_{}", turn + 1));
            let tool_ids: Vec<_> = reply
                .content
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::ToolUse { id, .. } => Some(id.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(tool_ids.len(), script.turns[turn].tools.len());
            assert_eq!(tool_ids[0], format!("toolu_{}_1", turn + 1));
            messages.push(assistant());
            messages.push(user("tool results"));
        }
        let last = reply(&scripts, &request(messages));
        assert_eq!(last.stop_reason, "end_turn");
        assert_eq!(
            last.content,
            vec![ContentBlock::Text {
                text: script.final_text.clone()
            }]
        );
    }

    #[test]
    fn unknown_or_missing_framework_ends_the_turn_naming_the_known_ones() {
        let scripts = Scripts::embedded().unwrap();
        for text in ["framework: cobol-on-cogs", "Please integrate PostHog."] {
            let reply = reply(&scripts, &request(vec![user(text)]));
            assert_eq!(reply.stop_reason, "end_turn");
            let said = match &reply.content[..] {
                [ContentBlock::Text { text }] => text.clone(),
                other => panic!("expected one text block, got {other:?}"),
            };
            assert!(said.contains("next-js"), "{said}");
        }
    }

    /// Applies every script to its fixture app (`fixtures/apps/<id>/`) in
    /// memory: every `Edit` must find its `old_string` exactly once, or the
    /// wizard would refuse the edit and the e2e run would fail; every `Write`
    /// must create a new file; the result must hold the SDK and one capture.
    #[test]
    fn every_script_applies_cleanly_to_its_fixture_app() {
        // (framework, file → substrings it must hold after the script ran).
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "next-js",
                &[
                    (
                        "instrumentation-client.ts",
                        "posthog.init(process.env.NEXT_PUBLIC_POSTHOG_KEY!",
                    ),
                    ("instrumentation-client.ts", "defaults: '2025-05-24'"),
                    ("app/page.tsx", "posthog.capture('get_started_clicked'"),
                ],
            ),
            (
                "react-vite",
                &[
                    (
                        "src/main.tsx",
                        "posthog.init(import.meta.env.VITE_PUBLIC_POSTHOG_KEY",
                    ),
                    (
                        "src/main.tsx",
                        "api_host: import.meta.env.VITE_PUBLIC_POSTHOG_HOST",
                    ),
                    ("src/main.tsx", "<PostHogProvider client={posthog}>"),
                    ("src/App.tsx", "posthog.capture('task_added'"),
                ],
            ),
            (
                "django",
                &[
                    ("requirements.txt", "posthog>="),
                    ("acme/settings.py", "load_dotenv(BASE_DIR / \".env\")"),
                    (
                        "notes/apps.py",
                        "posthog.api_key = os.environ[\"POSTHOG_API_KEY\"]",
                    ),
                    (
                        "notes/apps.py",
                        "posthog.host = os.environ[\"POSTHOG_HOST\"]",
                    ),
                    ("notes/views.py", "event=\"note_created\""),
                ],
            ),
            (
                "flask",
                &[
                    ("requirements.txt", "posthog>="),
                    (
                        "app.py",
                        "Posthog(os.environ[\"POSTHOG_API_KEY\"], host=os.environ[\"POSTHOG_HOST\"])",
                    ),
                    ("app.py", "atexit.register(posthog.shutdown)"),
                    ("app.py", "event=\"note_created\""),
                ],
            ),
            (
                "express",
                &[
                    (
                        "src/index.js",
                        "new PostHog(process.env.POSTHOG_API_KEY, {\n  host: process.env.POSTHOG_HOST,",
                    ),
                    ("src/index.js", "event: 'note_created'"),
                    ("src/index.js", "await posthog.shutdown();"),
                    ("package.json", "node --env-file=.env src/index.js"),
                ],
            ),
        ];
        let scripts = Scripts::embedded().unwrap();
        let mut tested: Vec<&str> = cases.iter().map(|(framework, _)| *framework).collect();
        tested.sort_unstable();
        assert_eq!(
            tested,
            scripts.frameworks(),
            "every embedded script needs a case"
        );
        for (framework, expected) in cases {
            check_script_applies(&scripts, framework, expected);
        }
    }

    fn check_script_applies(scripts: &Scripts, framework: &str, expected: &[(&str, &str)]) {
        let app = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/apps")
            .join(framework);
        assert!(
            app.is_dir(),
            "{framework}: no fixture app at {}",
            app.display()
        );
        let script = scripts.get(framework).unwrap();
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for turn in &script.turns {
            for tool in &turn.tools {
                match tool {
                    ScriptTool::Write(input) => {
                        assert!(
                            !app.join(&input.file_path).exists()
                                && !files.contains_key(&input.file_path),
                            "{framework}: Write would overwrite {}",
                            input.file_path
                        );
                        files.insert(input.file_path.clone(), input.content.clone());
                    }
                    ScriptTool::Edit(input) => {
                        let current = match files.get(&input.file_path) {
                            Some(text) => text.clone(),
                            None => std::fs::read_to_string(app.join(&input.file_path))
                                .unwrap_or_else(|error| {
                                    panic!("{framework}: {}: {error}", input.file_path)
                                }),
                        };
                        assert_eq!(
                            current.matches(&input.old_string).count(),
                            1,
                            "{framework}: old_string of the edit to {} must match exactly once:\n{}",
                            input.file_path,
                            input.old_string
                        );
                        files.insert(
                            input.file_path.clone(),
                            current.replacen(&input.old_string, &input.new_string, 1),
                        );
                    }
                }
            }
        }
        if let Some(text) = files.get("package.json") {
            let package: serde_json::Value = serde_json::from_str(text)
                .unwrap_or_else(|error| panic!("{framework}: package.json is not JSON: {error}"));
            let sdk = match framework {
                "express" => "posthog-node",
                _ => "posthog-js",
            };
            assert!(
                package["dependencies"][sdk].is_string(),
                "{framework}: package.json lacks the dependency {sdk}"
            );
        }
        for (path, needle) in expected {
            let text = files
                .get(*path)
                .unwrap_or_else(|| panic!("{framework}: the script never touched {path}"));
            assert!(
                text.contains(needle),
                "{framework}: {path} lacks {needle:?}:\n{text}"
            );
        }
    }
}
