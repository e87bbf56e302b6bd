//! The outside tools and files the driver reads: wrk's output and Lua
//! script, hyperfine's JSON, `/proc` (pure parsers; unit-tested).

use std::time::Duration;

/// What one wrk run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkResult {
    pub requests_per_second: f64,
    pub requests: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// "Non-2xx or 3xx responses" plus socket errors.
    pub failures: u64,
}

/// A wrk latency such as `512.00us`, `1.20ms` or `2.01s`, in milliseconds.
fn wrk_duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(number) = text.strip_suffix("us") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60_000.0)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1000.0)
    } else {
        return None;
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|value| value * factor)
}

/// Parses `wrk --latency` output.
pub fn parse_wrk(output: &str) -> Option<WrkResult> {
    let mut requests_per_second = None;
    let mut requests = 0;
    let mut p50 = None;
    let mut p99 = None;
    let mut failures = 0;
    for line in output.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            requests_per_second = rest.trim().parse::<f64>().ok();
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50 = wrk_duration_ms(rest);
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = wrk_duration_ms(rest);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            failures += rest.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            failures += rest
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        } else if line.contains(" requests in ") {
            requests = line
                .split_whitespace()
                .next()
                .and_then(|count| count.parse().ok())
                .unwrap_or(0);
        }
    }
    Some(WrkResult {
        requests_per_second: requests_per_second?,
        requests,
        p50_ms: p50,
        p99_ms: p99,
        failures,
    })
}

/// A wrk Lua script that sends `method` with `headers` and `body`.
pub fn wrk_script(method: &str, headers: &[(&str, &str)], body: Option<&str>) -> String {
    let quote = |text: &str| format!("{text:?}");
    let mut script = format!("wrk.method = {}\n", quote(method));
    if let Some(body) = body {
        script.push_str(&format!("wrk.body = {}\n", quote(body)));
    }
    for (name, value) in headers {
        script.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            quote(name),
            quote(value)
        ));
    }
    script
}

/// hyperfine's `--export-json` figures of its first command, in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct HyperfineResult {
    pub runs: usize,
    pub mean_ms: f64,
    pub median_ms: f64,
    pub user_ms: f64,
    pub system_ms: f64,
}

pub fn parse_hyperfine(json: &str) -> Option<HyperfineResult> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let result = value.get("results")?.get(0)?;
    let seconds = |key: &str| result.get(key).and_then(serde_json::Value::as_f64);
    Some(HyperfineResult {
        runs: result.get("times")?.as_array()?.len(),
        mean_ms: seconds("mean")? * 1000.0,
        median_ms: seconds("median")? * 1000.0,
        user_ms: seconds("user")? * 1000.0,
        system_ms: seconds("system")? * 1000.0,
    })
}

/// `VmRSS` of a `/proc/<pid>/status` text, in MB (MiB).
pub fn vm_rss_mb(status: &str) -> Option<f64> {
    kilobytes_of(status, "VmRSS:").map(|kb| kb as f64 / 1024.0)
}

/// `MemTotal` of `/proc/meminfo`, in MB (MiB).
pub fn mem_total_mb(meminfo: &str) -> Option<u64> {
    kilobytes_of(meminfo, "MemTotal:").map(|kb| kb / 1024)
}

fn kilobytes_of(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The 1, 5 and 15 minute load averages of `/proc/loadavg`, or `unknown`.
pub fn load_average(loadavg: &str) -> String {
    let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    if fields.len() == 3 && fields.iter().all(|field| field.parse::<f64>().is_ok()) {
        fields.join(" ")
    } else {
        "unknown".to_owned()
    }
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// The resident memory of a process now, in MB.
pub fn rss_of(pid: u32) -> Option<f64> {
    vm_rss_mb(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Milliseconds of a duration.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_average_takes_three_numbers_or_says_unknown() {
        assert_eq!(
            load_average("0.52 0.58 0.59 1/467 12345\n"),
            "0.52 0.58 0.59"
        );
        assert_eq!(load_average(""), "unknown");
        assert_eq!(load_average("a b c"), "unknown");
    }

    const WRK: &str = "Running 5s test @ http://127.0.0.1:1/oauth/introspect
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  500.00us  12.00ms   90.00%
    Req/Sec    30.12k     1.00k   32.00k    70.00%
  Latency Distribution
     50%  850.00us
     75%    2.00ms
     90%    3.00ms
     99%    1.20s
  150000 requests in 5.00s, 30.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  30000.50
Transfer/sec:      6.00MB
";

    #[test]
    fn wrk_output_parses() {
        let result = parse_wrk(WRK).unwrap();
        assert_eq!(result.requests_per_second, 30000.5);
        assert_eq!(result.requests, 150000);
        assert_eq!(result.p50_ms, Some(0.85));
        assert_eq!(result.p99_ms, Some(1200.0));
        assert_eq!(result.failures, 7);
        assert_eq!(parse_wrk("no figures"), None);
    }

    #[test]
    fn wrk_script_quotes_everything() {
        let script = wrk_script(
            "POST",
            &[("Authorization", "Basic YTpi"), ("Content-Type", "x")],
            Some("token=a\"b"),
        );
        assert_eq!(
            script,
            "wrk.method = \"POST\"\nwrk.body = \"token=a\\\"b\"\n\
             wrk.headers[\"Authorization\"] = \"Basic YTpi\"\nwrk.headers[\"Content-Type\"] = \"x\"\n"
        );
    }

    #[test]
    fn hyperfine_json_parses() {
        let json = r#"{"results":[{"command":"w","mean":0.1,"median":0.09,"user":0.02,"system":0.01,"times":[0.1,0.09,0.11]}]}"#;
        let result = parse_hyperfine(json).unwrap();
        assert_eq!(result.runs, 3);
        assert!((result.mean_ms - 100.0).abs() < 1e-9);
        assert!((result.median_ms - 90.0).abs() < 1e-9);
        assert!((result.user_ms - 20.0).abs() < 1e-9);
        assert_eq!(parse_hyperfine("{}"), None);
    }

    #[test]
    fn proc_files_parse() {
        let status = "Name:\tx\nVmPeak:\t  9999 kB\nVmRSS:\t    10240 kB\n";
        assert_eq!(vm_rss_mb(status), Some(10.0));
        assert_eq!(vm_rss_mb("Name: x\n"), None);
        assert_eq!(
            mem_total_mb("MemTotal:       2048000 kB\nMemFree: 1 kB\n"),
            Some(2000)
        );
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags: x\n").as_deref(),
            Some("AMD EPYC 7B13")
        );
    }
}
