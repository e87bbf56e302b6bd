//! Edits computed from a file's text: each returns the `(old, new)` pair
//! of an exact replacement anchored on whole lines that occur once, or
//! `None` when the file offers no such anchor.

/// `line` plus its newline as an anchor, if that occurs exactly once.
fn unique_line(text: &str, line: &str) -> Option<String> {
    let anchored = format!("{line}\n");
    let count = text
        .split_inclusive('\n')
        .filter(|candidate| *candidate == anchored)
        .count();
    (count == 1).then_some(anchored)
}

/// Inserts `addition` (whole lines, each ending in a newline) after `line`.
pub fn insert_after(text: &str, line: &str, addition: &str) -> Option<(String, String)> {
    let old = unique_line(text, line)?;
    Some((old.clone(), format!("{old}{addition}")))
}

/// Inserts `addition` before `line`.
pub fn insert_before(text: &str, line: &str, addition: &str) -> Option<(String, String)> {
    let old = unique_line(text, line)?;
    Some((old.clone(), format!("{addition}{old}")))
}

/// The imports a React module needs to hand the `posthog` client to
/// `PostHogProvider`.
pub const POSTHOG_PROVIDER_IMPORTS: &str =
    "import posthog from 'posthog-js';\nimport { PostHogProvider } from 'posthog-js/react';\n";

/// Wraps the first line that holds `element` alone (`<App />`) in a
/// `PostHogProvider` given the `posthog` client, at that line's indent.
pub fn wrap_in_posthog_provider(text: &str, element: &str) -> Option<(String, String)> {
    let line = find_line(text, |line| line.trim() == element)?;
    let pad = indent(line);
    Some((
        format!("{line}\n"),
        format!("{pad}<PostHogProvider client={{posthog}}>\n{pad}  {element}\n{pad}</PostHogProvider>\n"),
    ))
}

/// The first line satisfying `pattern`.
pub fn find_line(text: &str, pattern: impl Fn(&str) -> bool) -> Option<&str> {
    text.lines().find(|line| pattern(line))
}

/// The leading whitespace of a line.
pub fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// A package added to `package.json`'s `dependencies` (or a
/// `dependencies` object created after the opening brace).
pub fn add_npm_dependency(
    manifest: &str,
    package: &str,
    version: &str,
) -> Option<(String, String)> {
    if let Some(line) = find_line(manifest, |line| {
        line.trim_start().starts_with("\"dependencies\"")
    }) {
        let base = indent(line);
        if line.trim_end().ends_with('{') {
            let inner = manifest
                .lines()
                .skip_while(|candidate| *candidate != line)
                .nth(1)
                .map(indent)
                .filter(|inner| inner.len() > base.len())
                .map_or(format!("{base}  "), str::to_owned);
            let closing_next = manifest
                .lines()
                .skip_while(|candidate| *candidate != line)
                .nth(1)
                .is_some_and(|next| next.trim_start().starts_with('}'));
            let comma = if closing_next { "" } else { "," };
            return insert_after(
                manifest,
                line,
                &format!("{inner}\"{package}\": \"{version}\"{comma}\n"),
            );
        }
        if line.contains("{}") {
            let replaced = line.replacen(
                "{}",
                &format!("{{\n{base}  \"{package}\": \"{version}\"\n{base}}}"),
                1,
            );
            let old = unique_line(manifest, line)?;
            return Some((old, format!("{replaced}\n")));
        }
        return None;
    }
    let first = manifest.lines().next()?;
    if first.trim() != "{" {
        return None;
    }
    insert_after(
        manifest,
        first,
        &format!("  \"dependencies\": {{\n    \"{package}\": \"{version}\"\n  }},\n"),
    )
}

/// The normalised distribution name of a requirement (`Django>=5 # x` →
/// `django`).
pub fn requirement_name(requirement: &str) -> String {
    let requirement = requirement.split('#').next().unwrap_or_default().trim();
    let requirement = requirement.trim_matches(|c| c == '"' || c == '\'' || c == ',');
    requirement
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether a manifest's lines declare the distribution of `requirement`.
pub fn declares_python(manifest: &str, requirement: &str) -> bool {
    let wanted = requirement_name(requirement);
    manifest.lines().any(|line| {
        let line = line.trim();
        let line = line
            .split_once('=')
            .filter(|(key, _)| !key.contains(['"', '<', '>', '~', '!']) && !key.trim().is_empty())
            .map_or(line, |(key, _)| key.trim());
        requirement_name(line) == wanted
    })
}

/// `lines` appended after the last non-empty line.
pub fn append_lines(text: &str, lines: &[&str]) -> Option<(String, String)> {
    let last = text.lines().rev().find(|line| !line.trim().is_empty())?;
    let addition: String = lines.iter().map(|line| format!("{line}\n")).collect();
    match unique_line(text, last) {
        Some(old) => Some((old.clone(), format!("{old}{addition}"))),
        // The last line without a newline: the anchor is the file's end.
        None if text.ends_with(last) && text.matches(last).count() == 1 => {
            Some((last.to_owned(), format!("{last}\n{addition}")))
        }
        None => None,
    }
}

/// Requirements added to `pyproject.toml`: PEP 621's `dependencies = [`
/// or Poetry's `[tool.poetry.dependencies]` table.
pub fn add_pyproject_dependencies(
    pyproject: &str,
    requirements: &[&str],
) -> Option<(String, String)> {
    if let Some(line) = find_line(pyproject, |line| {
        line.trim_start().starts_with("dependencies") && line.contains('[')
    }) {
        let quoted: Vec<String> = requirements.iter().map(|r| format!("\"{r}\"")).collect();
        if line.trim_end().ends_with('[') {
            let addition: String = quoted.iter().map(|r| format!("    {r},\n")).collect();
            return insert_after(pyproject, line, &addition);
        }
        if line.trim_end().ends_with(']') {
            let (head, _) = line.split_once('[')?;
            let body = line[head.len() + 1..line.rfind(']')?].trim();
            let mut items: Vec<String> = body
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect();
            items.extend(quoted);
            let old = unique_line(pyproject, line)?;
            return Some((old, format!("{head}[{}]\n", items.join(", "))));
        }
        return None;
    }
    let header = find_line(pyproject, |line| {
        line.trim() == "[tool.poetry.dependencies]"
    })?;
    let addition: String = requirements
        .iter()
        .map(|requirement| {
            let name = requirement_name(requirement);
            let version = requirement[name.len()..].trim();
            format!("{name} = \"{version}\"\n")
        })
        .collect();
    insert_after(pyproject, header, &addition)
}

/// The last line of the import block at the top of a JavaScript or
/// TypeScript module (`import …;`, a multi-line import's `} from '…';`, or
/// a `require` at the top level), if any.
pub fn last_js_import(text: &str) -> Option<&str> {
    let mut last = None;
    let mut in_import = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if in_import {
            if trimmed.starts_with('}') || trimmed.contains(" from ") {
                last = Some(line);
                in_import = false;
            }
            continue;
        }
        let is_import = trimmed.starts_with("import ")
            || (indent(line).is_empty()
                && trimmed.contains("require(")
                && trimmed.starts_with("const "));
        if is_import {
            if trimmed.ends_with('{') {
                in_import = true;
            } else {
                last = Some(line);
            }
        }
    }
    last
}

/// Lines added at the top of a JavaScript module: after its last import,
/// else after a `'use client'` directive, else before its first line.
pub fn add_js_lines_at_top(text: &str, lines: &str) -> Option<(String, String)> {
    if let Some(last) = last_js_import(text) {
        return insert_after(text, last, lines);
    }
    if let Some(directive) = find_line(text, is_use_client) {
        return insert_after(text, directive, &format!("\n{lines}"));
    }
    let first = text.lines().next()?;
    insert_before(text, first, &format!("{lines}\n"))
}

/// Whether a line is Next.js's `'use client'` directive.
pub fn is_use_client(line: &str) -> bool {
    let trimmed = line.trim().trim_end_matches(';');
    trimmed == "'use client'" || trimmed == "\"use client\""
}

/// The last line of the import block at the top of a Python module
/// (parenthesised imports included), if any.
pub fn last_python_import(text: &str) -> Option<&str> {
    let mut last = None;
    let mut open = false;
    for line in text.lines() {
        if open {
            if line.trim_start().starts_with(')') || line.trim_end().ends_with(')') {
                last = Some(line);
                open = false;
            }
            continue;
        }
        if line.starts_with("def ") || line.starts_with("class ") || line.starts_with('@') {
            break;
        }
        if line.starts_with("import ") || line.starts_with("from ") {
            match line.trim_end().ends_with('(') {
                true => open = true,
                false => last = Some(line),
            }
        }
    }
    last
}

/// Python lines added after the module's imports (or at its top).
pub fn add_python_lines_at_top(text: &str, lines: &str) -> Option<(String, String)> {
    if let Some(last) = last_python_import(text) {
        return insert_after(text, last, lines);
    }
    let first = text.lines().next()?;
    if first.starts_with("\"\"\"") && first.len() > 3 && first.trim_end().ends_with("\"\"\"") {
        return insert_after(text, first, &format!("\n{lines}"));
    }
    insert_before(text, first, &format!("{lines}\n"))
}

/// The imports a Python module lacks, of `wanted` (`import os`, …).
pub fn missing_python_imports(text: &str, wanted: &[&str]) -> String {
    wanted
        .iter()
        .filter(|import| !text.lines().any(|line| line.trim() == **import))
        .map(|import| format!("{import}\n"))
        .collect()
}

/// `addition` (lines at the body's indentation, given as `{indent}`
/// placeholders) as the first statements of the block `header` opens.
pub fn insert_in_block(text: &str, header: &str, addition: &str) -> Option<(String, String)> {
    let body_indent = text
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .find(|line| !line.trim().is_empty())
        .map(indent)
        .filter(|inner| inner.len() > indent(header).len())
        .map_or(format!("{}    ", indent(header)), str::to_owned);
    insert_after(text, header, &addition.replace("{indent}", &body_indent))
}

/// A capture in a React component: inside the first event handler the
/// component declares (`function addTask(…) {`, `const onSave = () => {`),
/// or else in the first one-line `onClick={() => …}`. `None` when the
/// component has neither.
pub fn js_capture(text: &str) -> Option<(String, String)> {
    let handler = text.lines().find_map(|line| {
        let trimmed = line.trim();
        if indent(line).is_empty() || !trimmed.ends_with('{') {
            return None;
        }
        let name = trimmed
            .strip_prefix("async ")
            .unwrap_or(trimmed)
            .strip_prefix("function ")
            .and_then(|rest| rest.split('(').next())
            .or_else(|| {
                let rest = trimmed.strip_prefix("const ")?;
                let (name, value) = rest.split_once(" = ")?;
                value.contains("=>").then_some(name)
            })?;
        let name = name.trim();
        let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        plain.then(|| (line, event_name(name)))
    });
    if let Some((line, event)) = handler {
        return insert_in_block(
            text,
            line,
            &format!("{{indent}}posthog.capture('{event}');\n"),
        );
    }
    let line = find_line(text, |line| line.contains("onClick={() => "))?;
    let start = line.find("onClick={() => ")? + "onClick={() => ".len();
    let end = start + line[start..].find('}')?;
    let expression = &line[start..end];
    if expression.contains('{') || expression.trim().is_empty() {
        return None;
    }
    let replaced = format!(
        "{}{{ {}; posthog.capture('button_clicked'); }}{}",
        &line[..start],
        expression.trim(),
        &line[end..]
    );
    let old = unique_line(text, line)?;
    Some((old, format!("{replaced}\n")))
}

/// `handleAddTask` → `add_task`; `addTask` → `add_task`.
pub fn event_name(handler: &str) -> String {
    let name = handler
        .strip_prefix("handle")
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
        .unwrap_or(handler);
    let mut event = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() && !event.is_empty() {
            event.push('_');
        }
        event.push(c.to_ascii_lowercase());
    }
    event
}

/// A Python capture as the first statement of the function `def_line`
/// opens; the distinct id is the client's address when the function has
/// a `request` (Django's argument, Flask's import).
pub fn python_capture(text: &str, def_line: &str, has_request: bool) -> Option<(String, String)> {
    let name = def_line
        .trim_start()
        .trim_start_matches("async ")
        .strip_prefix("def ")?
        .split('(')
        .next()?
        .trim();
    let distinct_id = match (has_request, def_line.contains("request")) {
        (_, true) => "request.META.get(\"REMOTE_ADDR\", \"anonymous\")",
        (true, false) => "request.remote_addr or \"anonymous\"",
        (false, false) => "\"anonymous\"",
    };
    let addition =
        format!("{{indent}}posthog.capture(distinct_id={distinct_id}, event=\"{name}\")\n");
    insert_in_block(text, def_line, &addition)
}

/// The `def` line of the first view that handles a `POST`: decorated as
/// such (`@require_POST`, `@app.post(…)`, `methods=["POST"]`), else named
/// like one (`create_…`, `add_…`, `save_…`, `submit_…`).
pub fn post_handler(text: &str) -> Option<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut decorated = false;
    for line in &lines {
        let trimmed = line.trim_start();
        if trimmed.starts_with('@') {
            let post = trimmed.contains("require_POST")
                || trimmed.contains(".post(")
                || (trimmed.contains("route(") && trimmed.contains("POST"));
            decorated |= post;
            continue;
        }
        if trimmed.starts_with("def ") || trimmed.starts_with("async def ") {
            if decorated {
                return Some(line);
            }
            decorated = false;
        }
    }
    lines.into_iter().find(|line| {
        let trimmed = line.trim_start();
        [
            "def create_",
            "def add_",
            "def save_",
            "def submit_",
            "def post(",
        ]
        .iter()
        .any(|prefix| trimmed.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, edit: Option<(String, String)>) -> String {
        let (old, new) = edit.expect("an anchor");
        assert_eq!(text.matches(&old).count(), 1, "{old:?}");
        text.replacen(&old, &new, 1)
    }

    #[test]
    fn npm_dependencies_land_in_valid_json() {
        let cases = [
            "{\n  \"dependencies\": {\n    \"next\": \"15\"\n  }\n}\n",
            "{\n  \"dependencies\": {}\n}\n",
            "{\n  \"name\": \"x\"\n}\n",
            "{\n    \"dependencies\": {\n        \"a\": \"1\",\n        \"b\": \"2\"\n    }\n}\n",
        ];
        for manifest in cases {
            let after = apply(manifest, add_npm_dependency(manifest, "posthog-js", "^1"));
            let value: serde_json::Value =
                serde_json::from_str(&after).unwrap_or_else(|error| panic!("{after}: {error}"));
            assert_eq!(value["dependencies"]["posthog-js"], "^1", "{after}");
        }
    }

    #[test]
    fn an_element_alone_on_its_line_is_wrapped_in_the_provider_at_its_indent() {
        let entry = "root.render(\n  <StrictMode>\n    <App />\n  </StrictMode>\n);\n";
        assert_eq!(
            apply(entry, wrap_in_posthog_provider(entry, "<App />")),
            "root.render(\n  <StrictMode>\n    <PostHogProvider client={posthog}>\n      <App />\n    </PostHogProvider>\n  </StrictMode>\n);\n"
        );
        let inline = "root.render(<App />);\n";
        assert_eq!(wrap_in_posthog_provider(inline, "<App />"), None);
    }

    #[test]
    fn python_manifests_gain_requirements() {
        assert!(declares_python("Django>=5.0  # web\n", "django"));
        assert!(declares_python("posthog = \">=3\"\n", "posthog>=3.0"));
        assert!(!declares_python("django-environ\n", "django"));
        let requirements = "Flask==3.0.3\ngunicorn==23.0.0";
        assert_eq!(
            apply(requirements, append_lines(requirements, &["posthog>=3.0"])),
            "Flask==3.0.3\ngunicorn==23.0.0\nposthog>=3.0\n"
        );
        let pep621 = "[project]\ndependencies = [\n    \"django>=5\",\n]\n";
        assert!(apply(
            pep621,
            add_pyproject_dependencies(pep621, &["posthog>=3.0"])
        )
        .contains("    \"posthog>=3.0\",\n    \"django>=5\","));
        let inline = "[project]\ndependencies = [\"flask>=3\"]\n";
        assert_eq!(
            apply(
                inline,
                add_pyproject_dependencies(inline, &["posthog>=3.0"])
            ),
            "[project]\ndependencies = [\"flask>=3\", \"posthog>=3.0\"]\n"
        );
        let poetry = "[tool.poetry.dependencies]\npython = \"^3.12\"\n";
        assert!(apply(
            poetry,
            add_pyproject_dependencies(poetry, &["posthog>=3.0"])
        )
        .contains("posthog = \">=3.0\""));
    }

    #[test]
    fn imports_go_after_the_import_block() {
        let module = "'use client';\n\nimport {\n  a,\n} from 'b';\nimport c from 'c';\n\nexport default 1;\n";
        assert_eq!(last_js_import(module), Some("import c from 'c';"));
        let bare = "'use client';\n\nexport default function Page() {}\n";
        assert_eq!(
            apply(bare, add_js_lines_at_top(bare, "import posthog from 'posthog-js';\n")),
            "'use client';\n\nimport posthog from 'posthog-js';\n\nexport default function Page() {}\n"
        );
        let python =
            "\"\"\"Doc.\"\"\"\n\nimport os\nfrom x import (\n    a,\n)\n\ndef f():\n    import y\n";
        assert_eq!(last_python_import(python), Some(")"));
    }

    #[test]
    fn captures_go_into_a_handler_or_a_click() {
        let handler = "export default function App() {\n  function addTask(event: FormEvent) {\n    event.preventDefault();\n  }\n}\n";
        assert!(apply(handler, js_capture(handler)).contains(
            "  function addTask(event: FormEvent) {\n    posthog.capture('add_task');\n"
        ));
        let click = "      <button onClick={() => setCount(count + 1)}>\n";
        assert_eq!(
            apply(click, js_capture(click)),
            "      <button onClick={() => { setCount(count + 1); posthog.capture('button_clicked'); }}>\n"
        );
        assert_eq!(
            js_capture("export default function A() {\n  return null;\n}\n"),
            None
        );
        assert_eq!(event_name("handleSaveNote"), "save_note");
    }
}
