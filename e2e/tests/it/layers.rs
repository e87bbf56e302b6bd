//! The harness's modules stand in layers (the code map in `lib.rs`): no
//! file imports one that imports it back through others. If this fails, a
//! lower module has started to use an upper one, and a newcomer can no
//! longer tell where a type lives or what a file may import; move the
//! shared item down instead.
//!
//! A file's imports are its `crate::…` and `super::…` paths and, for a
//! parent, its uses of its own child modules, outside comments and
//! `#[cfg(test)]` modules. Two files that import each other are tolerated
//! (a parent and its child); a longer circle is not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

/// The longest circle of files importing each other that is tolerated.
const LONGEST_CIRCLE: usize = 2;

#[test]
fn no_circle_of_imports_longer_than_two_files() {
    let graph = graph();
    assert!(graph.len() > 20, "only {} files under src/", graph.len());
    let circles: Vec<Vec<String>> = strongly_connected(graph)
        .into_iter()
        .filter(|component| component.len() > LONGEST_CIRCLE)
        .collect();
    assert!(
        circles.is_empty(),
        "files that import each other in a circle: {circles:?}"
    );
}

#[test]
fn the_steps_data_imports_nothing_of_the_crate() {
    for (file, imports) in graph() {
        if file.starts_with("steps/") {
            let outside: Vec<&String> = imports
                .iter()
                .filter(|import| !import.starts_with("steps/"))
                .collect();
            assert!(outside.is_empty(), "{file} imports {outside:?}");
        }
    }
}

/// The crate's import graph, read once for every test.
fn graph() -> &'static BTreeMap<String, BTreeSet<String>> {
    static GRAPH: OnceLock<BTreeMap<String, BTreeSet<String>>> = OnceLock::new();
    GRAPH.get_or_init(|| import_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")))
}

/// File (relative to `src`, with `/`) → the files it imports.
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    collect(src, src, &mut files);
    let known: BTreeSet<String> = files.iter().map(|(name, _)| name.clone()).collect();
    files
        .iter()
        .filter(|(name, _)| !name.starts_with("bin/") && name != "main.rs")
        .map(|(name, text)| (name.clone(), imports(name, text, &known)))
        .collect()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let name = path.strip_prefix(root).unwrap().to_string_lossy();
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((name.replace('\\', "/"), text));
        }
    }
}

/// A file's module path: `runner/mod.rs` → `["runner"]`.
fn module_path(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file that declares the longest prefix of a module path.
fn file_of(path: &[String], known: &BTreeSet<String>) -> String {
    for length in (1..=path.len()).rev() {
        let base = path[..length].join("/");
        for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
            if known.contains(&candidate) {
                return candidate;
            }
        }
    }
    "lib.rs".to_owned()
}

/// The code of a file without comments and `#[cfg(test)]` modules.
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index].trim();
        let test_module = line == "#[cfg(test)]"
            && lines
                .get(index + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod ") && next.contains('{'));
        if test_module {
            // rustfmt closes the module with a brace at its own indentation
            // (counting braces would trip on one inside a string).
            let indent =
                &lines[index + 1][..lines[index + 1].len() - lines[index + 1].trim_start().len()];
            let close = format!("{indent}}}");
            index += 2;
            while index < lines.len() && lines[index] != close {
                index += 1;
            }
            index += 1;
            continue;
        }
        if !line.starts_with("//") {
            kept.push(lines[index]);
        }
        index += 1;
    }
    kept.join("\n")
}

fn imports(file: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    static PATTERNS: OnceLock<[Regex; 4]> = OnceLock::new();
    let [grouped, absolute, relative, children] = PATTERNS.get_or_init(|| {
        [
            r"\bcrate::\{([^}]*)\}",
            r"\bcrate((?:::\w+)+)",
            r"\b((?:super::)+)((?:\w+::)*\w+)?",
            r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;",
        ]
        .map(|pattern| Regex::new(pattern).unwrap())
    });
    let module = module_path(file);
    let code = code(text);
    let mut out = BTreeSet::new();
    for captures in grouped.captures_iter(&code) {
        for item in captures[1].split(',') {
            let path: Vec<String> = item.trim().split("::").map(str::to_owned).collect();
            if !path[0].is_empty() && path[0] != "self" {
                out.insert(file_of(&path, known));
            }
        }
    }
    for captures in absolute.captures_iter(&code) {
        let path: Vec<String> = captures[1].split("::").skip(1).map(str::to_owned).collect();
        out.insert(file_of(&path, known));
    }
    for captures in relative.captures_iter(&code) {
        let up = captures[1].matches("super::").count();
        let mut path: Vec<String> = module[..module.len().saturating_sub(up)].to_vec();
        if let Some(rest) = captures.get(2) {
            path.extend(rest.as_str().split("::").map(str::to_owned));
        }
        out.insert(file_of(&path, known));
    }
    for captures in children.captures_iter(&code) {
        let child = &captures[1];
        if uses_child(&code, child) {
            let mut path = module.clone();
            path.push(child.to_owned());
            out.insert(file_of(&path, known));
        }
    }
    out.remove(file);
    out.remove("lib.rs");
    out
}

/// Whether `code` names `child::…` as a path of its own (not as the tail
/// of another path such as `other::child::`).
fn uses_child(code: &str, child: &str) -> bool {
    let needle = format!("{child}::");
    code.match_indices(&needle).any(|(at, _)| {
        let before = code[..at].trim_end_matches("self::");
        !before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        next: usize,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        state.index.insert(node, state.next);
        state.low.insert(node, state.next);
        state.next += 1;
        state.stack.push(node);
        state.on_stack.insert(node);
        for next in &state.graph[node] {
            let Some((next, _)) = state.graph.get_key_value(next.as_str()) else {
                continue;
            };
            if !state.index.contains_key(next.as_str()) {
                visit(state, next);
                let low = state.low[node].min(state.low[next.as_str()]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next.as_str()) {
                let low = state.low[node].min(state.index[next.as_str()]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            component.sort();
            state.components.push(component);
        }
    }
    let mut state = State {
        graph,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.components
}
