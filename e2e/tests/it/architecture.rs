//! The layering rules of ARCHITECTURE.md, checked on the workspace's own
//! sources: no circle of more than two files importing each other inside a
//! crate, no route file importing another, and no file over 700 lines of
//! code. Each file is parsed with `syn`; code under `#[cfg(test)]` is left
//! out, and a parent's `mod child;` is a declaration, not an import.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The most lines of code (not blank, not comment, not unit tests) a file
/// may hold.
const MAX_LINES_OF_CODE: usize = 700;

/// The largest group of files that may import each other (a parent and its
/// child, or two siblings sharing a type).
const MAX_CIRCLE: usize = 2;

/// Each crate root of the workspace, as `(crate directory, root file)`.
fn crate_roots() -> Vec<(String, PathBuf)> {
    let root = workspace_root();
    let mut roots = Vec::new();
    for member in [
        "protocol",
        "server",
        "wizard",
        "llm-gateway-mock",
        "e2e",
        "bench",
    ] {
        let src = root.join(member).join("src");
        for file in ["lib.rs", "main.rs"] {
            if src.join(file).is_file() {
                roots.push((member.to_owned(), src.join(file)));
            }
        }
        if let Ok(entries) = std::fs::read_dir(src.join("bin")) {
            for entry in entries.flatten() {
                roots.push((member.to_owned(), entry.path()));
            }
        }
    }
    roots
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e sits in the workspace")
        .to_owned()
}

/// One crate's files: each module path with the file that holds it.
struct Crate {
    /// Module path (`["routes", "token"]`) → file.
    modules: BTreeMap<Vec<String>, PathBuf>,
    /// File → its parsed syntax, test code removed.
    files: BTreeMap<PathBuf, syn::File>,
}

impl Crate {
    fn load(root: &Path) -> Crate {
        let mut krate = Crate {
            modules: BTreeMap::new(),
            files: BTreeMap::new(),
        };
        krate.add(Vec::new(), root.to_owned());
        krate
    }

    fn add(&mut self, module: Vec<String>, file: PathBuf) {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("reading {}: {error}", file.display()));
        let mut parsed = syn::parse_file(&text)
            .unwrap_or_else(|error| panic!("parsing {}: {error}", file.display()));
        parsed.items.retain(|item| !is_test_only(item_attrs(item)));
        // A child's file sits beside a crate root or a `mod.rs`, and in a
        // folder named after any other file's module.
        let name = file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("");
        let dir = if module.is_empty() || name == "mod" {
            file.parent().unwrap().to_owned()
        } else {
            file.with_extension("")
        };
        for item in &parsed.items {
            if let syn::Item::Mod(declared) = item {
                if declared.content.is_none() {
                    let child = declared.ident.to_string();
                    let flat = dir.join(format!("{child}.rs"));
                    let nested = dir.join(&child).join("mod.rs");
                    let path = if flat.is_file() { flat } else { nested };
                    let mut child_module = module.clone();
                    child_module.push(child);
                    self.add(child_module, path);
                }
            }
        }
        self.modules.insert(module, file.clone());
        self.files.insert(file, parsed);
    }

    fn module_of(&self, file: &Path) -> Vec<String> {
        self.modules
            .iter()
            .find(|(_, path)| path.as_path() == file)
            .map(|(module, _)| module.clone())
            .expect("every file is a module")
    }

    /// The file holding the longest module prefix of an absolute path.
    fn file_of(&self, path: &[String]) -> Option<&PathBuf> {
        (0..=path.len())
            .rev()
            .find_map(|length| self.modules.get(&path[..length]))
    }

    /// Which files each file imports (never itself).
    fn imports(&self) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
        let mut graph = BTreeMap::new();
        for (file, parsed) in &self.files {
            let module = self.module_of(file);
            let mut collector = Paths::default();
            collector.visit_file(parsed);
            let mut targets = BTreeSet::new();
            for path in collector.resolve(&module, &collector.children(parsed)) {
                if let Some(target) = self.file_of(&path) {
                    if target != file {
                        targets.insert(target.clone());
                    }
                }
            }
            graph.insert(file.clone(), targets);
        }
        graph
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(item) => &item.attrs,
        syn::Item::Enum(item) => &item.attrs,
        syn::Item::Fn(item) => &item.attrs,
        syn::Item::Impl(item) => &item.attrs,
        syn::Item::Mod(item) => &item.attrs,
        syn::Item::Static(item) => &item.attrs,
        syn::Item::Struct(item) => &item.attrs,
        syn::Item::Trait(item) => &item.attrs,
        syn::Item::Type(item) => &item.attrs,
        syn::Item::Use(item) => &item.attrs,
        syn::Item::Macro(item) => &item.attrs,
        _ => &[],
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

/// Every path a file names, and the names its `use` items bring in scope.
#[derive(Default)]
struct Paths {
    paths: Vec<Vec<String>>,
    /// A name in scope → the path it stands for.
    aliases: HashMap<String, Vec<String>>,
}

impl Paths {
    fn children(&self, parsed: &syn::File) -> BTreeSet<String> {
        parsed
            .items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Mod(declared) => Some(declared.ident.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Each path made absolute from the crate root, when it is one of ours.
    fn resolve(&self, module: &[String], children: &BTreeSet<String>) -> Vec<Vec<String>> {
        let mut resolved = Vec::new();
        let mut pending: Vec<Vec<String>> = self.paths.clone();
        pending.extend(self.aliases.values().cloned());
        for path in pending {
            if let Some(absolute) = absolute(&path, module, children, &self.aliases) {
                resolved.push(absolute);
            }
        }
        resolved
    }

    fn add_use(&mut self, prefix: Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                let mut prefix = prefix;
                prefix.push(path.ident.to_string());
                self.add_use(prefix, &path.tree);
            }
            syn::UseTree::Name(name) => {
                let mut full = prefix;
                let ident = name.ident.to_string();
                if ident == "self" {
                    if let Some(last) = full.last().cloned() {
                        self.aliases.insert(last, full);
                    }
                } else {
                    full.push(ident.clone());
                    self.aliases.insert(ident, full);
                }
            }
            syn::UseTree::Rename(rename) => {
                let mut full = prefix;
                full.push(rename.ident.to_string());
                self.aliases.insert(rename.rename.to_string(), full);
            }
            syn::UseTree::Glob(_) => self.paths.push(prefix),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.add_use(prefix.clone(), tree);
                }
            }
        }
    }
}

/// A path made absolute (from the crate root), or `None` for another
/// crate's path or a local name.
fn absolute(
    path: &[String],
    module: &[String],
    children: &BTreeSet<String>,
    aliases: &HashMap<String, Vec<String>>,
) -> Option<Vec<String>> {
    let first = path.first()?;
    match first.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "self" => Some([module, &path[1..]].concat()),
        "super" => {
            let supers = path
                .iter()
                .take_while(|segment| *segment == "super")
                .count();
            let base = &module[..module.len().checked_sub(supers)?];
            Some([base, &path[supers..]].concat())
        }
        name if children.contains(name) => Some([module, path].concat()),
        name => {
            let target = aliases.get(name)?;
            if target.first().map(String::as_str) == Some(name) && target.len() == 1 {
                return None;
            }
            let base = absolute(target, module, children, &HashMap::new())?;
            Some([base.as_slice(), &path[1..]].concat())
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.add_use(Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.paths.push(
            path.segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect(),
        );
        syn::visit::visit_path(self, path);
    }

    /// `pub(crate)` and `pub(super)` name a module without importing it.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_impl_item_fn(self, item);
        }
    }
}

/// The groups of files that reach each other through imports (Tarjan's
/// strongly connected components), largest first.
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    let files: Vec<&PathBuf> = graph.keys().collect();
    let reach = |from: &PathBuf| -> BTreeSet<PathBuf> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(file) = stack.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&PathBuf, BTreeSet<PathBuf>> =
        files.iter().map(|file| (*file, reach(file))).collect();
    let mut placed = BTreeSet::new();
    let mut groups = Vec::new();
    for file in &files {
        if placed.contains(*file) {
            continue;
        }
        let mut group: Vec<PathBuf> = files
            .iter()
            .filter(|other| {
                *other == file
                    || (reachable[*file].contains(**other) && reachable[**other].contains(*file))
            })
            .map(|other| (*other).clone())
            .collect();
        group.sort();
        placed.extend(group.iter().cloned());
        groups.push(group);
    }
    groups.sort_by_key(|group| std::cmp::Reverse(group.len()));
    groups
}

/// Lines that are neither blank nor comments, outside `#[cfg(test)]` items.
fn lines_of_code(file: &Path) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    let parsed = syn::parse_file(&text).unwrap();
    let mut test_lines = BTreeSet::new();
    for item in &parsed.items {
        if is_test_only(item_attrs(item)) {
            let span = syn::spanned::Spanned::span(item);
            test_lines.extend(span.start().line..=span.end().line);
        }
    }
    let mut in_block_comment = false;
    text.lines()
        .enumerate()
        .filter(|(index, line)| {
            let line = line.trim();
            if in_block_comment {
                in_block_comment = !line.contains("*/");
                return false;
            }
            if line.starts_with("/*") {
                in_block_comment = !line.contains("*/");
                return false;
            }
            !line.is_empty() && !line.starts_with("//") && !test_lines.contains(&(index + 1))
        })
        .count()
}

fn relative(file: &Path) -> String {
    file.strip_prefix(workspace_root())
        .unwrap_or(file)
        .display()
        .to_string()
}

#[test]
fn no_crate_has_a_circle_of_more_than_two_files() {
    let mut faults = Vec::new();
    for (member, root) in crate_roots() {
        let krate = Crate::load(&root);
        let graph = krate.imports();
        for group in circles(&graph) {
            if group.len() > MAX_CIRCLE {
                if std::env::var_os("ARCH_DEBUG").is_some() {
                    for file in &group {
                        for target in graph[file].iter().filter(|target| group.contains(target)) {
                            eprintln!("{} -> {}", relative(file), relative(target));
                        }
                    }
                }
                let names: Vec<String> = group.iter().map(|file| relative(file)).collect();
                faults.push(format!(
                    "{member}: {} files import each other: {}",
                    names.len(),
                    names.join(", ")
                ));
            }
        }
    }
    assert!(faults.is_empty(), "import circles:\n{}", faults.join("\n"));
}

/// The e2e harness's scenario format (`steps/`) sits below everything
/// that runs it, as mini-redis's frames sit below its commands: if this
/// fails, the format has started to depend on a runner.
#[test]
fn the_steps_data_imports_nothing_else_of_the_harness() {
    let root = workspace_root().join("e2e/src/lib.rs");
    let steps = workspace_root().join("e2e/src/steps");
    let faults: Vec<String> = Crate::load(&root)
        .imports()
        .iter()
        .filter(|(file, _)| file.starts_with(&steps))
        .flat_map(|(file, targets)| {
            targets
                .iter()
                .filter(|target| !target.starts_with(&steps))
                .map(move |target| format!("{} imports {}", relative(file), relative(target)))
        })
        .collect();
    assert!(
        faults.is_empty(),
        "the steps format reaching up:\n{}",
        faults.join("\n")
    );
}

#[test]
fn no_route_file_imports_another() {
    let root = workspace_root().join("server/src/lib.rs");
    let krate = Crate::load(&root);
    let routes = workspace_root().join("server/src/routes");
    // A route's own submodules (`routes/account_requests/…`) are part of it.
    let route_of = |file: &Path| {
        let inside = file.strip_prefix(&routes).ok()?;
        let first = inside.components().next()?.as_os_str().to_str()?;
        (first != "mod.rs").then(|| first.trim_end_matches(".rs").to_owned())
    };
    let faults: Vec<String> = krate
        .imports()
        .iter()
        .filter_map(|(file, targets)| Some((file, targets, route_of(file)?)))
        .flat_map(|(file, targets, route)| {
            targets
                .iter()
                .filter(move |target| route_of(target).is_some_and(|other| other != route))
                .map(move |target| format!("{} imports {}", relative(file), relative(target)))
        })
        .collect();
    assert!(
        faults.is_empty(),
        "route files importing route files:\n{}",
        faults.join("\n")
    );
}

#[test]
fn no_file_is_over_the_line_limit() {
    let mut faults = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, root) in crate_roots() {
        for file in Crate::load(&root).files.into_keys() {
            if seen.insert(file.clone()) {
                let lines = lines_of_code(&file);
                if lines > MAX_LINES_OF_CODE {
                    faults.push(format!("{}: {lines} lines of code", relative(&file)));
                }
            }
        }
    }
    assert!(
        faults.is_empty(),
        "files over {MAX_LINES_OF_CODE} lines of code (unit tests excluded):\n{}",
        faults.join("\n")
    );
}

#[test]
fn the_checks_see_a_circle_and_a_parent() {
    let file = |name: &str| PathBuf::from(name);
    let graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("parent", vec!["child"]),
        ("child", vec!["parent"]),
    ]
    .into_iter()
    .map(|(from, to)| (file(from), to.into_iter().map(file).collect()))
    .collect();
    let sizes: Vec<usize> = circles(&graph).iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 2]);

    let children = BTreeSet::from(["child".to_owned()]);
    let aliases = HashMap::from([("db".to_owned(), vec!["crate".to_owned(), "db".to_owned()])]);
    let module = vec!["routes".to_owned(), "token".to_owned()];
    let path = |text: &str| text.split("::").map(str::to_owned).collect::<Vec<_>>();
    let resolve = |text: &str| absolute(&path(text), &module, &children, &aliases);
    assert_eq!(
        resolve("super::resources::check"),
        Some(path("routes::resources::check"))
    );
    assert_eq!(resolve("db::Db::open"), Some(path("db::Db::open")));
    assert_eq!(resolve("child::f"), Some(path("routes::token::child::f")));
    assert_eq!(resolve("std::sync::Arc"), None);

    // A visibility names a module without importing it; test code is left
    // out; a `use` and a path in code are both imports.
    let file = syn::parse_file(
        "pub(crate) fn f() { crate::db::open(); }\n\
         use super::error::ApiError;\n\
         #[cfg(test)] mod tests { use crate::seed::Seed; }",
    )
    .unwrap();
    let mut paths = Paths::default();
    paths.visit_file(&file);
    let mut found = paths.resolve(&module, &BTreeSet::new());
    found.sort();
    assert_eq!(found, [path("db::open"), path("routes::error::ApiError")]);
}
