//! The sample project: copying a fixture app and taking a manifest of its
//! files, so "untouched" can mean byte-identical.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use anyhow::{bail, Context, Result};

/// Relative path (with `/`) → file bytes.
pub type Manifest = BTreeMap<String, Vec<u8>>;

/// Copies `from` into `to` recursively (regular files and directories).
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Writes each `relative path → text` under `root`, creating parent
/// directories and replacing existing files. Each path is checked again
/// (see [`check_relative`]) so nothing lands outside.
pub fn write_files(root: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    for (relative, text) in files {
        check_relative(relative)
            .with_context(|| format!("refusing to write {relative:?} under {}", root.display()))?;
        let target = root.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

/// A path of `home_files` or `project_files`: relative, made only of
/// ordinary names, so it cannot leave the directory it is written into.
pub fn check_relative(path: &str) -> Result<()> {
    let parsed = Path::new(path);
    if path.is_empty() {
        bail!("the path is empty");
    }
    if parsed.is_absolute() {
        bail!("the path must be relative, not absolute");
    }
    for component in parsed.components() {
        match component {
            Component::Normal(_) => {}
            Component::ParentDir => {
                bail!("the path must stay inside its directory (no `..`)")
            }
            _ => bail!("the path may hold only plain names (no `.`, `/` or prefixes)"),
        }
    }
    Ok(())
}

/// Every file under `root`, by relative path.
pub fn manifest(root: &Path) -> Result<Manifest> {
    let mut files = Manifest::new();
    collect(root, "", &mut files)?;
    Ok(files)
}

fn collect(dir: &Path, prefix: &str, files: &mut Manifest) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type()?.is_dir() {
            collect(&entry.path(), &relative, files)?;
        } else {
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            files.insert(relative, bytes);
        }
    }
    Ok(())
}

/// What changed between two manifests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Difference {
    pub created: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl Difference {
    pub fn between(before: &Manifest, after: &Manifest) -> Difference {
        let mut difference = Difference::default();
        for (path, bytes) in after {
            match before.get(path) {
                None => difference.created.push(path.clone()),
                Some(old) if old != bytes => difference.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        difference.removed = before
            .keys()
            .filter(|path| !after.contains_key(*path))
            .cloned()
            .collect();
        difference
    }

    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_then_manifest_sees_every_file() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("app/nested")).unwrap();
        std::fs::write(from.path().join("package.json"), "{}").unwrap();
        std::fs::write(from.path().join("app/nested/page.tsx"), "x").unwrap();
        let to = tempfile::tempdir().unwrap();
        copy_dir(from.path(), &to.path().join("project")).unwrap();
        let files = manifest(&to.path().join("project")).unwrap();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["app/nested/page.tsx", "package.json"]
        );
        assert_eq!(files, manifest(from.path()).unwrap());
    }

    #[test]
    fn written_files_land_inside_and_replace_existing_ones() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("package.json"), "old").unwrap();
        let files = BTreeMap::from([
            ("package.json".to_owned(), "new".to_owned()),
            (".claude/settings.json".to_owned(), "{}".to_owned()),
        ]);
        write_files(root.path(), &files).unwrap();
        let written = manifest(root.path()).unwrap();
        assert_eq!(written["package.json"], b"new");
        assert_eq!(written[".claude/settings.json"], b"{}");
    }

    #[test]
    fn a_path_out_of_the_root_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("home");
        std::fs::create_dir_all(&root).unwrap();
        let files = BTreeMap::from([("../escape".to_owned(), "x".to_owned())]);
        let message = format!("{:#}", write_files(&root, &files).unwrap_err());
        assert!(message.contains("../escape"), "{message}");
        assert!(message.contains(".."), "{message}");
        assert!(!parent.path().join("escape").exists());
    }

    #[test]
    fn difference_names_created_changed_and_removed_files() {
        let before = Manifest::from([
            ("a".to_owned(), b"1".to_vec()),
            ("b".to_owned(), b"2".to_vec()),
            ("c".to_owned(), b"3".to_vec()),
        ]);
        let after = Manifest::from([
            ("a".to_owned(), b"1".to_vec()),
            ("b".to_owned(), b"changed".to_vec()),
            ("d".to_owned(), b"new".to_vec()),
        ]);
        let difference = Difference::between(&before, &after);
        assert_eq!(difference.created, ["d"]);
        assert_eq!(difference.changed, ["b"]);
        assert_eq!(difference.removed, ["c"]);
        assert!(Difference::between(&before, &before).is_empty());
    }
}
