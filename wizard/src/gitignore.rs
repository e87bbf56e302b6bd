//! The project's `.gitignore` and the env files the wizard writes: the
//! published wizard makes sure every env file its `set_env_values` writes
//! is listed there by name (creating the file when the project has none),
//! so a key never reaches a commit. We do the same for every env file a
//! run writes, and read the patterns a little further than it does: a
//! file already ignored by a glob (`.env*`) gets no second line.

/// The ignore file at the project's root.
pub const GITIGNORE: &str = ".gitignore";

/// Whether the root `.gitignore` holding `content` ignores a file named
/// `name` wherever it stands. Only patterns that can match a bare name
/// count: a name or a glob of `*` and `?`, optionally anchored with a
/// leading `/` (then only at the root, where the wizard's env files
/// live); the last matching line wins, and a `!` line un-ignores.
pub fn ignores(content: &str, name: &str) -> bool {
    let mut ignored = false;
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
        if pattern.contains(['/', '[', '\\']) {
            continue;
        }
        if glob_matches(pattern.as_bytes(), name.as_bytes()) {
            ignored = !negated;
        }
    }
    ignored
}

/// `content` (the current `.gitignore`, `None` when there is none) with
/// `name` on a line of its own at the end.
pub fn with_entry(content: Option<&str>, name: &str) -> String {
    match content {
        None | Some("") => format!("{name}\n"),
        Some(content) if content.ends_with('\n') => format!("{content}{name}\n"),
        Some(content) => format!("{content}\n{name}\n"),
    }
}

/// `*` matches any run of characters, `?` any one; everything else itself.
fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            glob_matches(rest, name) || (!name.is_empty() && glob_matches(pattern, &name[1..]))
        }
        (Some((b'?', rest)), Some((_, name_rest))) => glob_matches(rest, name_rest),
        (Some((expected, rest)), Some((got, name_rest))) if expected == got => {
            glob_matches(rest, name_rest)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, a key file is left for `git add` to pick up, or an
    /// ignored one gets a second line.
    #[test]
    fn env_files_are_ignored_by_name_glob_and_order() {
        let cases: &[(&str, &str, bool)] = &[
            ("", ".env", false),
            ("node_modules\n", ".env", false),
            (".env\n", ".env", true),
            ("  .env.local  \n", ".env.local", true),
            ("/.env\n", ".env", true),
            (".env*\n", ".env.local", true),
            (".env*.local\n", ".env.local", true),
            (".env*.local\n", ".env", false),
            ("*.local\n", ".env.local", true),
            (".env.?\n", ".env.x", true),
            (".env.?\n", ".env", false),
            (".env\n", ".env.local", false),
            (".env.local\n", ".env", false),
            ("# .env\n", ".env", false),
            ("#notes\n", "#notes", false),
            (".envx\n", ".env1", false),
            (".env*\n!.env.local\n", ".env.local", false),
            ("!.env\n.env\n", ".env", true),
            ("app/.env\n", ".env", false),
            (".env/\n", ".env", false),
            ("[.]env\n", ".env", false),
        ];
        for (content, name, expected) in cases {
            assert_eq!(ignores(content, name), *expected, "{content:?} {name}");
        }
    }

    #[test]
    fn an_entry_goes_on_a_line_of_its_own() {
        assert_eq!(with_entry(None, ".env"), ".env\n");
        assert_eq!(with_entry(Some(""), ".env"), ".env\n");
        assert_eq!(with_entry(Some("dist\n"), ".env"), "dist\n.env\n");
        assert_eq!(with_entry(Some("dist"), ".env"), "dist\n.env\n");
    }
}
