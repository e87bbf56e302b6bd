//! The project a published wizard ran in, before and after: the files
//! (for the app's checklist, [`crate::expect::check_project`]), a digest of
//! the whole tree (so "untouched" covers every directory, file, byte and
//! mode), and the diff a reader opens.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::project::Manifest;

/// The project once before the wizard ran and once after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectStates {
    pub before: Manifest,
    pub after: Manifest,
    pub digest_before: String,
    pub digest_after: String,
}

/// What the tree holds now: its files and its digest.
pub fn capture(root: &Path) -> Result<(Manifest, String)> {
    Ok((crate::project::manifest(root)?, tree_digest(root)?))
}

/// SHA-256 over every entry under `root` in name order: each directory's
/// relative path, each file's relative path, mode bits and bytes, each
/// symbolic link's target. Two trees have the same digest only if they
/// are the same tree.
pub fn tree_digest(root: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    digest_dir(root, "", &mut hasher)?;
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

fn digest_dir(dir: &Path, prefix: &str, hasher: &mut Sha256) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let relative = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let metadata = std::fs::symlink_metadata(entry.path())?;
        // Each record is tagged and length-prefixed, so no two different
        // trees concatenate to the same bytes.
        let mut record = |tag: &[u8], fields: &[&[u8]]| {
            hasher.update(tag);
            for field in fields {
                hasher.update((field.len() as u64).to_le_bytes());
                hasher.update(field);
            }
        };
        if metadata.is_dir() {
            record(b"d", &[relative.as_bytes()]);
            digest_dir(&entry.path(), &format!("{relative}/"), hasher)?;
        } else if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            record(
                b"l",
                &[relative.as_bytes(), target.to_string_lossy().as_bytes()],
            );
        } else {
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            let mode = metadata.permissions().mode().to_le_bytes();
            record(b"f", &[relative.as_bytes(), &mode, &bytes]);
        }
    }
    Ok(())
}

/// A unified diff of every file created, changed or removed, paths
/// relative to the project (`a/…`, `b/…`); a file that is not UTF-8 is
/// named, not shown. Empty when nothing changed.
pub fn render_diff(before: &Manifest, after: &Manifest) -> String {
    let mut out = String::new();
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for path in paths {
        let (old, new) = (before.get(path), after.get(path));
        if old == new {
            continue;
        }
        let text = |bytes: Option<&Vec<u8>>| -> Option<String> {
            match bytes {
                None => Some(String::new()),
                Some(bytes) => String::from_utf8(bytes.clone()).ok(),
            }
        };
        let (Some(old_text), Some(new_text)) = (text(old), text(new)) else {
            let _ = writeln!(out, "Binary file {path} differs");
            continue;
        };
        let old_name = old.map_or_else(|| "/dev/null".to_owned(), |_| format!("a/{path}"));
        let new_name = new.map_or_else(|| "/dev/null".to_owned(), |_| format!("b/{path}"));
        let diff = similar::TextDiff::from_lines(&old_text, &new_text);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
                .missing_newline_hint(true)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let target = root.path().join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, text).unwrap();
        }
        root
    }

    #[test]
    fn the_digest_sees_every_kind_of_change_to_the_tree() {
        let base = [("package.json", "{}"), ("app/page.tsx", "x")];
        let digest = |root: &tempfile::TempDir| tree_digest(root.path()).unwrap();
        let original = digest(&tree(&base));
        assert!(original.starts_with("sha256:"), "{original}");
        assert_eq!(
            original,
            digest(&tree(&base)),
            "the same tree, the same digest"
        );

        let changed_byte = tree(&[("package.json", "{ }"), ("app/page.tsx", "x")]);
        let created_file = tree(&[("package.json", "{}"), ("app/page.tsx", "x"), (".env", "")]);
        let renamed = tree(&[("package.json", "{}"), ("app/page.jsx", "x")]);
        let empty_dir = tree(&base);
        std::fs::create_dir(empty_dir.path().join("cache")).unwrap();
        let mode = tree(&base);
        let path = mode.path().join("package.json");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Moving bytes between a name and a body must not collide.
        let shifted = tree(&[("package.jso", "n{}"), ("app/page.tsx", "x")]);
        for (what, other) in [
            ("a changed byte", changed_byte),
            ("a created file", created_file),
            ("a renamed file", renamed),
            ("an empty directory", empty_dir),
            ("a changed mode", mode),
            ("bytes moved from body to name", shifted),
        ] {
            assert_ne!(original, digest(&other), "{what} went unseen");
        }
    }

    #[test]
    fn the_diff_shows_created_changed_and_removed_files() {
        let before = Manifest::from([
            ("package.json".to_owned(), b"{\n  \"a\": 1\n}\n".to_vec()),
            ("old.txt".to_owned(), b"gone\n".to_vec()),
            ("same.txt".to_owned(), b"same\n".to_vec()),
            ("logo.png".to_owned(), vec![0xff, 0x00]),
        ]);
        let after = Manifest::from([
            (
                "package.json".to_owned(),
                b"{\n  \"a\": 1,\n  \"posthog-js\": \"1\"\n}\n".to_vec(),
            ),
            (".env".to_owned(), b"KEY=phc_x\n".to_vec()),
            ("same.txt".to_owned(), b"same\n".to_vec()),
            ("logo.png".to_owned(), vec![0xff, 0x01]),
        ]);
        let diff = render_diff(&before, &after);
        assert!(diff.contains("--- /dev/null\n+++ b/.env\n"), "{diff}");
        assert!(diff.contains("+KEY=phc_x\n"), "{diff}");
        assert!(
            diff.contains("--- a/package.json\n+++ b/package.json\n"),
            "{diff}"
        );
        assert!(diff.contains("+  \"posthog-js\": \"1\"\n"), "{diff}");
        assert!(diff.contains("--- a/old.txt\n+++ /dev/null\n"), "{diff}");
        assert!(diff.contains("Binary file logo.png differs"), "{diff}");
        assert!(!diff.contains("same.txt"), "{diff}");
        assert_eq!(render_diff(&before, &before), "");
    }
}
