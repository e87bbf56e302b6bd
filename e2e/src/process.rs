//! Spawning the programs: scrubbed environment, own process group, output
//! to files, waiting for the `listening on` line with a deadline, and
//! killing whole groups (at the end, on failure, and on Ctrl-C).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// How long a service may take to print its `listening on` line.
pub const LISTENING_DEADLINE: Duration = Duration::from_secs(20);

/// Lines of a log shown when something fails.
pub const TAIL_LINES: usize = 30;

/// Process groups still alive, killed all at once on Ctrl-C.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Everything needed to start one program, and to print it for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment: the child gets this and nothing else.
    pub env: BTreeMap<String, String>,
    pub current_dir: PathBuf,
}

impl Invocation {
    /// A shell command line that reruns the program by hand with exactly
    /// this environment.
    pub fn shell_line(&self) -> String {
        let mut words = vec![
            format!("cd {} &&", shell_quote(&self.current_dir.to_string_lossy())),
            "env -i".to_owned(),
        ];
        for (key, value) in &self.env {
            words.push(format!("{key}={}", shell_quote(value)));
        }
        words.push(shell_quote(&self.program.to_string_lossy()));
        words.extend(self.args.iter().map(|arg| shell_quote(arg)));
        words.join(" ")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.current_dir)
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        command
    }
}

/// The environment every child starts from: `PATH`, `HOME`,
/// `POSTHOG_WIZARD_LOG_DIR`, nothing inherited besides `PATH`.
pub fn base_environment(home: &Path, log_dir: &Path) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned());
    env.insert("PATH".to_owned(), path);
    env.insert("HOME".to_owned(), home.display().to_string());
    env.insert(
        "POSTHOG_WIZARD_LOG_DIR".to_owned(),
        log_dir.display().to_string(),
    );
    env
}

/// A running child in its own process group; dropping it kills the group.
#[derive(Debug)]
pub struct Running {
    pub name: String,
    child: Child,
    group: i32,
}

impl Running {
    /// Kills the whole group and reaps the leader.
    pub async fn kill(mut self) {
        kill_group(self.group);
        let _ = self.child.wait().await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_group(self.group);
    }
}

/// A service that printed its `listening on` line.
#[derive(Debug)]
pub struct Service {
    /// `http://<addr>` as printed.
    pub url: String,
    pub process: Running,
    pub invocation: Invocation,
}

/// Starts a service with stdout and stderr written to the given files and
/// waits for `listening on http://…` on stdout. If the program exits first
/// or the deadline passes, the error carries the tail of its stderr.
pub async fn start_service(
    name: &str,
    invocation: Invocation,
    stdout_path: &Path,
    stderr_path: &Path,
) -> Result<Service> {
    let stderr_file = std::fs::File::create(stderr_path)
        .with_context(|| format!("cannot create {}", stderr_path.display()))?;
    let mut command = invocation.command();
    command.stdout(Stdio::piped()).stderr(stderr_file);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {name} ({})", invocation.program.display()))?;
    let group = register(&child)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut copy = tokio::fs::File::create(stdout_path)
        .await
        .with_context(|| format!("cannot create {}", stdout_path.display()))?;
    let (sender, receiver) = tokio::sync::oneshot::channel::<String>();
    // Copies stdout to its file for the whole life of the process, and hands
    // over the first `listening on` line.
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut sender = Some(sender);
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = copy.write_all(line.as_bytes()).await;
            let _ = copy.write_all(b"\n").await;
            let _ = copy.flush().await;
            if let Some(url) = line.strip_prefix("listening on ") {
                if let Some(sender) = sender.take() {
                    let _ = sender.send(url.trim().to_owned());
                }
            }
        }
    });
    let running = Running {
        name: name.to_owned(),
        child,
        group,
    };
    match tokio::time::timeout(LISTENING_DEADLINE, receiver).await {
        Ok(Ok(url)) => Ok(Service {
            url,
            process: running,
            invocation,
        }),
        Ok(Err(_closed)) => {
            let mut running = running;
            let status = running.child.wait().await.ok();
            unregister(group);
            Err(anyhow!(
                "{name} closed its stdout without printing `listening on` (exit: {})\n{}",
                status.map_or("unknown".to_owned(), |status| status.to_string()),
                tail_section(&format!("{name} stderr"), stderr_path)
            ))
        }
        Err(_elapsed) => {
            running.kill().await;
            Err(anyhow!(
                "{name} did not print `listening on` within {} s\n{}",
                LISTENING_DEADLINE.as_secs(),
                tail_section(&format!("{name} stderr"), stderr_path)
            ))
        }
    }
}

/// How a run-to-completion program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    /// Killed by a signal (not by us).
    Signalled(i32),
    /// Killed by the harness after the timeout.
    TimedOut,
}

/// Runs a program to completion with stdout and stderr written to files;
/// after `timeout` its whole group is killed.
pub async fn run_to_completion(
    name: &str,
    invocation: &Invocation,
    stdout_path: &Path,
    stderr_path: &Path,
    timeout: Duration,
) -> Result<Ending> {
    let stdout_file = std::fs::File::create(stdout_path)
        .with_context(|| format!("cannot create {}", stdout_path.display()))?;
    let stderr_file = std::fs::File::create(stderr_path)
        .with_context(|| format!("cannot create {}", stderr_path.display()))?;
    let mut command = invocation.command();
    command.stdout(stdout_file).stderr(stderr_file);
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {name} ({})", invocation.program.display()))?;
    let group = register(&child)?;
    let mut running = Running {
        name: name.to_owned(),
        child,
        group,
    };
    let ending = match tokio::time::timeout(timeout, running.child.wait()).await {
        Ok(Ok(status)) => ending_of(name, status)?,
        Ok(Err(error)) => return Err(error).context(format!("cannot wait for {name}")),
        Err(_elapsed) => Ending::TimedOut,
    };
    // Also kills anything the program left behind in its group.
    running.kill().await;
    Ok(ending)
}

/// A program started without waiting for it: stdout is copied to its file
/// and handed over line by line as it comes, so a step can wait for one
/// line (with a deadline) while the program runs on.
#[derive(Debug)]
pub struct Background {
    running: Running,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// The copier of stdout; done once stdout is closed and written out.
    copier: tokio::task::JoinHandle<()>,
    /// Its stdin, when started by [`start_interactive`].
    stdin: Option<tokio::process::ChildStdin>,
}

/// Starts a program with stdout and stderr written to files; `stdin`, when
/// given, is written to its stdin, which is then closed (else stdin is
/// empty).
pub async fn start_background(
    name: &str,
    invocation: &Invocation,
    stdin: Option<&str>,
    stdout_path: &Path,
    stderr_path: &Path,
) -> Result<Background> {
    let stdin = match stdin {
        Some(text) => StdinMode::Text(text),
        None => StdinMode::Empty,
    };
    spawn_background(name, invocation, stdin, stdout_path, stderr_path).await
}

/// Starts a program like [`start_background`], with its stdin a pipe left
/// open for [`Background::type_text`] (a person typing into it).
pub async fn start_interactive(
    name: &str,
    invocation: &Invocation,
    stdout_path: &Path,
    stderr_path: &Path,
) -> Result<Background> {
    spawn_background(name, invocation, StdinMode::Open, stdout_path, stderr_path).await
}

/// What a background program reads on stdin.
enum StdinMode<'a> {
    Empty,
    /// Written, then closed.
    Text(&'a str),
    /// Kept open for [`Background::type_text`].
    Open,
}

async fn spawn_background(
    name: &str,
    invocation: &Invocation,
    stdin: StdinMode<'_>,
    stdout_path: &Path,
    stderr_path: &Path,
) -> Result<Background> {
    let stderr_file = std::fs::File::create(stderr_path)
        .with_context(|| format!("cannot create {}", stderr_path.display()))?;
    let mut copy = tokio::fs::File::create(stdout_path)
        .await
        .with_context(|| format!("cannot create {}", stdout_path.display()))?;
    let mut command = invocation.command();
    command.stdout(Stdio::piped()).stderr(stderr_file);
    if !matches!(stdin, StdinMode::Empty) {
        command.stdin(Stdio::piped());
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {name} ({})", invocation.program.display()))?;
    let group = register(&child)?;
    let mut open_stdin = None;
    match (stdin, child.stdin.take()) {
        (StdinMode::Text(text), Some(mut pipe)) => {
            let text = text.to_owned();
            // Written by a task so a program that reads late cannot block us;
            // dropping the pipe afterwards closes its stdin.
            tokio::spawn(async move {
                let _ = pipe.write_all(text.as_bytes()).await;
                let _ = pipe.shutdown().await;
            });
        }
        (StdinMode::Open, pipe) => open_stdin = pipe,
        _ => {}
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, lines) = tokio::sync::mpsc::unbounded_channel();
    let copier = tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let _ = copy.write_all(line.as_bytes()).await;
            let _ = copy.write_all(b"\n").await;
            let _ = copy.flush().await;
            let _ = sender.send(line);
        }
    });
    Ok(Background {
        running: Running {
            name: name.to_owned(),
            child,
            group,
        },
        lines,
        copier,
        stdin: open_stdin,
    })
}

impl Background {
    /// Writes `text` to the program's open stdin, as a person types it.
    pub async fn type_text(&mut self, text: &str) -> Result<()> {
        let name = &self.running.name;
        let Some(pipe) = self.stdin.as_mut() else {
            bail!("{name} was started without an open stdin");
        };
        pipe.write_all(text.as_bytes())
            .await
            .with_context(|| format!("cannot write to {name}'s stdin"))?;
        pipe.flush()
            .await
            .with_context(|| format!("cannot write to {name}'s stdin"))?;
        Ok(())
    }

    /// Reads stdout lines as they come until one matches `pattern`, at
    /// most `deadline`; answers its capture groups (0 is the whole match).
    /// Lines read here are not read again by a later call.
    pub async fn wait_for_line(
        &mut self,
        pattern: &regex::Regex,
        deadline: Duration,
    ) -> Result<Vec<Option<String>>> {
        let name = self.running.name.clone();
        let search = async {
            let mut read = 0usize;
            while let Some(line) = self.lines.recv().await {
                read += 1;
                let line = strip_ansi(&line);
                if let Some(captures) = pattern.captures(&line) {
                    return Ok(captures
                        .iter()
                        .map(|group| group.map(|group| group.as_str().to_owned()))
                        .collect());
                }
            }
            Err(anyhow!(
                "{name} closed its stdout ({read} more line(s) read) without a line matching /{pattern}/"
            ))
        };
        match tokio::time::timeout(deadline, search).await {
            Ok(found) => found,
            Err(_elapsed) => bail!(
                "no line of {name}'s stdout matched /{pattern}/ within {} ms",
                deadline.as_millis()
            ),
        }
    }

    /// Waits for the program to exit, at most `timeout`, then kills its
    /// group; stdout is completely in its file when this returns.
    pub async fn wait(mut self, timeout: Duration) -> Result<Ending> {
        let name = self.running.name.clone();
        let ending = match tokio::time::timeout(timeout, self.running.child.wait()).await {
            Ok(Ok(status)) => ending_of(&name, status)?,
            Ok(Err(error)) => return Err(error).context(format!("cannot wait for {name}")),
            Err(_elapsed) => Ending::TimedOut,
        };
        self.running.kill().await;
        // The group is dead, so stdout closes; the copier finishes writing.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.copier).await;
        Ok(ending)
    }

    /// Kills the program's group.
    pub async fn kill(self) {
        self.running.kill().await;
        self.copier.abort();
    }
}

fn ending_of(name: &str, status: std::process::ExitStatus) -> Result<Ending> {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => Ok(Ending::Exited(code)),
        (None, Some(signal)) => Ok(Ending::Signalled(signal)),
        (None, None) => bail!("{name} ended with an unreadable status"),
    }
}

/// Kills every live group (Ctrl-C).
pub fn kill_all_live() {
    let groups: Vec<i32> = LIVE_GROUPS
        .lock()
        .map(|set| set.iter().copied().collect())
        .unwrap_or_default();
    for group in groups {
        kill_group(group);
    }
}

/// The last `lines` lines of a file (lossy UTF-8), or a note that it is
/// missing.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = strip_ansi(&String::from_utf8_lossy(&bytes));
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].join("\n")
        }
        Err(error) => format!("({} unreadable: {error})", path.display()),
    }
}

/// Removes terminal colour sequences (`ESC [ … letter`), which some
/// loggers write even to files.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for inner in chars.by_ref() {
                if inner.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A titled tail of a file, indented, for failure output. Full secrets are
/// masked: the tail is printed, and the leak scan reports them on its own.
pub fn tail_section(title: &str, path: &Path) -> String {
    let body = protocol::credential::redact_secrets(&tail(path, TAIL_LINES));
    let body = if body.trim().is_empty() {
        "    (empty)".to_owned()
    } else {
        body.lines()
            .map(|line| format!("    {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    format!("  --- {title} ({file}) ---\n{body}")
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

fn register(child: &Child) -> Result<i32> {
    let pid = child
        .id()
        .context("the child exited before its id could be read")?;
    let group = i32::try_from(pid).context("process id out of range")?;
    if let Ok(mut set) = LIVE_GROUPS.lock() {
        set.insert(group);
    }
    Ok(group)
}

fn unregister(group: i32) {
    if let Ok(mut set) = LIVE_GROUPS.lock() {
        set.remove(&group);
    }
}

fn kill_group(group: i32) {
    let was_live = LIVE_GROUPS
        .lock()
        .map(|mut set| set.remove(&group))
        .unwrap_or(true);
    if was_live && group > 1 {
        // SAFETY: kill(2) with a negative pid signals that process group
        // only; the group id is one we created with `process_group(0)`.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago: bound, read, released.
pub fn free_port() -> Result<u16> {
    let (listener, port) = reserve_port()?;
    drop(listener);
    Ok(port)
}

/// A free port on 127.0.0.1, held by the returned listener until it is
/// dropped: while it is held, no other `bind` to port 0 (a program started
/// in between) can be given it.
pub fn reserve_port() -> Result<(std::net::TcpListener, u16)> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("cannot bind 127.0.0.1:0 to find a free port")?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_table() {
        let cases = [
            ("plain-word", "plain-word"),
            (
                "sqlite:///tmp/x.sqlite?mode=rwc",
                "'sqlite:///tmp/x.sqlite?mode=rwc'",
            ),
            ("it's", "'it'\\''s'"),
            ("", "''"),
            ("a b", "'a b'"),
        ];
        for (input, expected) in cases {
            assert_eq!(shell_quote(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn the_rerun_line_clears_the_environment() {
        let invocation = Invocation {
            program: PathBuf::from("/bin/wizard"),
            args: vec!["--email".to_owned(), "a b@example.com".to_owned()],
            env: BTreeMap::from([("HOME".to_owned(), "/tmp/h".to_owned())]),
            current_dir: PathBuf::from("/tmp/s"),
        };
        assert_eq!(
            invocation.shell_line(),
            "cd /tmp/s && env -i HOME=/tmp/h /bin/wizard --email 'a b@example.com'"
        );
    }

    #[test]
    fn failure_tails_never_print_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wizard.stderr");
        std::fs::write(&path, "key phx_AAAAAAAAAAAAAAAAAAAAAAAA\n").unwrap();
        let section = tail_section("wizard stderr", &path);
        assert!(section.contains("key phx_***"), "{section}");
        assert!(!section.contains("AAAA"), "{section}");
    }

    #[test]
    fn colour_sequences_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[2mtime\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m ready"),
            "time  INFO ready"
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "1\n2\n3\n4\n").unwrap();
        assert_eq!(tail(&path, 2), "3\n4");
        assert!(tail(&dir.path().join("missing"), 2).contains("unreadable"));
    }

    #[tokio::test]
    async fn a_service_that_exits_early_reports_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let invocation = Invocation {
            program: PathBuf::from("/bin/sh"),
            args: vec![
                "-c".to_owned(),
                "echo boom-on-stderr >&2; exit 3".to_owned(),
            ],
            env: base_environment(dir.path(), dir.path()),
            current_dir: dir.path().to_path_buf(),
        };
        let error = start_service(
            "fake",
            invocation,
            &dir.path().join("out"),
            &dir.path().join("err"),
        )
        .await
        .unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("boom-on-stderr"), "{message}");
    }

    #[tokio::test]
    async fn a_service_is_ready_when_it_prints_its_address() {
        let dir = tempfile::tempdir().unwrap();
        let invocation = Invocation {
            program: PathBuf::from("/bin/sh"),
            args: vec![
                "-c".to_owned(),
                "echo starting; echo 'listening on http://127.0.0.1:4321'; exec sleep 30"
                    .to_owned(),
            ],
            env: base_environment(dir.path(), dir.path()),
            current_dir: dir.path().to_path_buf(),
        };
        let service = start_service(
            "fake",
            invocation,
            &dir.path().join("out"),
            &dir.path().join("err"),
        )
        .await
        .unwrap();
        assert_eq!(service.url, "http://127.0.0.1:4321");
        service.process.kill().await;
    }

    fn shell(dir: &Path, script: &str) -> Invocation {
        Invocation {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".to_owned(), script.to_owned()],
            env: base_environment(dir, dir),
            current_dir: dir.to_path_buf(),
        }
    }

    #[tokio::test]
    async fn a_background_line_is_found_as_it_comes_and_its_groups_answered() {
        let dir = tempfile::tempdir().unwrap();
        let invocation = shell(
            dir.path(),
            "echo 'Open this URL:'; sleep 0.2; echo 'http://127.0.0.1:9/oauth/authorize?state=s1'; read pasted; echo \"got $pasted\"; exit 4",
        );
        let mut background = start_background(
            "fake",
            &invocation,
            Some("the-code\n"),
            &dir.path().join("out"),
            &dir.path().join("err"),
        )
        .await
        .unwrap();
        let pattern = regex::Regex::new(r"^(http://\S+/oauth/authorize\?state=(\w+))$").unwrap();
        let groups = background
            .wait_for_line(&pattern, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            groups,
            [
                Some("http://127.0.0.1:9/oauth/authorize?state=s1".to_owned()),
                Some("http://127.0.0.1:9/oauth/authorize?state=s1".to_owned()),
                Some("s1".to_owned()),
            ]
        );
        let ending = background.wait(Duration::from_secs(10)).await.unwrap();
        assert_eq!(ending, Ending::Exited(4));
        let stdout = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert!(stdout.contains("Open this URL:\n"), "{stdout}");
        assert!(stdout.ends_with("got the-code\n"), "{stdout}");
    }

    #[tokio::test]
    async fn a_line_that_never_comes_fails_at_the_deadline_without_killing() {
        let dir = tempfile::tempdir().unwrap();
        let invocation = shell(dir.path(), "echo nothing-useful; exec sleep 30");
        let mut background = start_background(
            "fake",
            &invocation,
            None,
            &dir.path().join("out"),
            &dir.path().join("err"),
        )
        .await
        .unwrap();
        let pattern = regex::Regex::new("^http").unwrap();
        let started = std::time::Instant::now();
        let message = format!(
            "{:#}",
            background
                .wait_for_line(&pattern, Duration::from_millis(300))
                .await
                .unwrap_err()
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(message.contains("within 300 ms"), "{message}");
        assert!(message.contains("/^http/"), "{message}");
        let ending = background.wait(Duration::from_millis(100)).await.unwrap();
        assert_eq!(ending, Ending::TimedOut);
    }

    #[tokio::test]
    async fn a_program_that_exits_before_the_line_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let invocation = shell(dir.path(), "echo one; echo two; exit 3");
        let mut background = start_background(
            "fake",
            &invocation,
            None,
            &dir.path().join("out"),
            &dir.path().join("err"),
        )
        .await
        .unwrap();
        let pattern = regex::Regex::new("^three$").unwrap();
        let message = format!(
            "{:#}",
            background
                .wait_for_line(&pattern, Duration::from_secs(20))
                .await
                .unwrap_err()
        );
        assert!(message.contains("closed its stdout"), "{message}");
        assert!(message.contains("2 more line(s)"), "{message}");
        assert_eq!(
            background.wait(Duration::from_secs(5)).await.unwrap(),
            Ending::Exited(3)
        );
    }

    #[tokio::test]
    async fn a_program_past_its_timeout_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let invocation = Invocation {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".to_owned(), "sleep 30".to_owned()],
            env: base_environment(dir.path(), dir.path()),
            current_dir: dir.path().to_path_buf(),
        };
        let ending = run_to_completion(
            "sleeper",
            &invocation,
            &dir.path().join("out"),
            &dir.path().join("err"),
            Duration::from_millis(200),
        )
        .await
        .unwrap();
        assert_eq!(ending, Ending::TimedOut);
    }

    #[test]
    fn a_free_port_is_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port));
        assert!(listener.is_ok(), "port {port} was not free");
    }
}
