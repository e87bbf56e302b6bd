//! Where everything a person reads goes: the results, the steps, the
//! sign-in URL and the warnings. The binary hands the session its stdout and
//! stderr ([`Output::standard`]); a test hands it buffers and reads back
//! exactly what a person would have seen, so no flow prints by itself.
//!
//! The two streams stay apart, as on a terminal: results and steps on
//! stdout (scripts and the e2e harness read it line by line, so each line
//! is written whole), warnings and notes on stderr.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// One writer, shared by the session, its progress steps and its log echo.
type Shared = Arc<Mutex<dyn Write + Send>>;

/// The run's two output streams. Cloning shares them.
#[derive(Clone)]
pub struct Output {
    stdout: Shared,
    stderr: Shared,
}

impl Output {
    /// An output writing to `stdout` and `stderr`. A write that fails (a
    /// closed pipe) is dropped: what a person reads never stops a run.
    pub fn new(stdout: impl Write + Send + 'static, stderr: impl Write + Send + 'static) -> Output {
        Output {
            stdout: Arc::new(Mutex::new(stdout)),
            stderr: Arc::new(Mutex::new(stderr)),
        }
    }

    /// The process's own streams: stdout is line-buffered by the standard
    /// library, so each line reaches a pipe as soon as it is complete.
    pub fn standard() -> Output {
        Output::new(std::io::stdout(), std::io::stderr())
    }

    /// Writes `text` and a newline on stdout.
    pub fn line(&self, text: impl AsRef<str>) {
        write_line(&self.stdout, text.as_ref());
    }

    /// Writes `text` and a newline on stderr.
    pub fn warn(&self, text: impl AsRef<str>) {
        write_line(&self.stderr, text.as_ref());
    }

    /// Writes `text` as it is on stderr (the verbose log's echo, whose
    /// lines end themselves).
    pub fn echo(&self, text: &str) {
        let mut stderr = lock(&self.stderr);
        let _ = stderr.write_all(text.as_bytes());
    }

    /// Pushes out whatever stdout holds, before the run waits for a person.
    pub fn flush(&self) {
        let _ = lock(&self.stdout).flush();
    }
}

fn write_line(stream: &Shared, text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = lock(stream).write_all(line.as_bytes());
}

fn lock(stream: &Shared) -> std::sync::MutexGuard<'_, dyn Write + Send + 'static> {
    stream
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer a test keeps a handle on.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// If this fails, a flow's lines land on the wrong stream or lose
    /// their ends, and the CLI snapshots and transcripts no longer match.
    #[test]
    fn lines_go_to_their_stream_whole_and_in_order() {
        let (stdout, stderr) = (Buffer::default(), Buffer::default());
        let output = Output::new(stdout.clone(), stderr.clone());
        output.line("first");
        output.warn("a warning");
        output.line(String::from("second"));
        output.echo("[log] raw\n");
        output.flush();
        let text = |buffer: &Buffer| String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text(&stdout), "first\nsecond\n");
        assert_eq!(text(&stderr), "a warning\n[log] raw\n");
    }
}
