//! Next.js, as PostHog's docs integrate it: `posthog-js` in the manifest;
//! from Next.js 15.3 an `instrumentation-client` file initialises it (at
//! the project root, or in `src/` when the app lives there); before 15.3 a
//! client provider wraps the App Router's root layout, or the Pages
//! Router's `_app` initialises it; a client page captures an event.

use protocol::frameworks::FrameworkInfo;

use super::plan::{
    npm_dependency, Act, Blocked, FileEdits, Planner, Task, TaskFn, POSTHOG_JS_VERSION,
};
use super::text;

pub const TASKS: &[TaskFn] = &[sdk, initialise, capture];

/// The shape of the project, as read from its manifest and listing.
struct Layout {
    /// `src/` or empty.
    base: &'static str,
    router: Router,
    typescript: bool,
    /// Next.js 15.3 or later (`instrumentation-client` runs).
    instrumentation_client: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Router {
    App,
    Pages,
}

const SCRIPT_EXTENSIONS: &[&str] = &["tsx", "ts", "jsx", "js"];

fn layout(planner: &mut Planner<'_>) -> Result<Layout, Blocked> {
    planner.listing()?;
    let manifest = planner.read("package.json")?.unwrap_or_default();
    let typescript =
        manifest.contains("\"typescript\"") || planner.exists("tsconfig.json") == Some(true);
    let mut found = None;
    'search: for base in ["src/", ""] {
        for (router, dir, file) in [
            (Router::App, "app", "layout"),
            (Router::Pages, "pages", "_app"),
        ] {
            let candidates: Vec<String> = SCRIPT_EXTENSIONS
                .iter()
                .map(|ext| format!("{base}{dir}/{file}.{ext}"))
                .collect();
            let in_dir = planner
                .files()
                .iter()
                .any(|path| path.starts_with(&format!("{base}{dir}/")));
            let existing = match in_dir || planner.knowledge.listed.is_none() {
                true => planner.first_existing(&candidates)?,
                false => None,
            };
            if existing.is_some() || in_dir {
                found = Some((base, router));
                break 'search;
            }
        }
    }
    let (base, router) = found.unwrap_or(("", Router::App));
    Ok(Layout {
        base,
        router,
        typescript,
        instrumentation_client: at_least_15_3(next_version(manifest)),
    })
}

/// The `next` version the manifest declares (`15.3.3`, `^14.2.5`).
fn next_version(manifest: &str) -> Option<&str> {
    let line = text::find_line(manifest, |line| line.trim_start().starts_with("\"next\":"))?;
    let value = line.split(':').nth(1)?;
    Some(value.trim().trim_end_matches(',').trim_matches('"'))
}

/// Whether a version range allows only 15.3 or later; an unknown one
/// (`latest`, a tag) is taken as current.
fn at_least_15_3(version: Option<&str>) -> bool {
    let Some(version) = version else {
        return true;
    };
    let digits = version.trim_start_matches(|c: char| !c.is_ascii_digit());
    let mut parts = digits.split('.').map(|part| {
        part.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .ok()
    });
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), minor) => major > 15 || (major == 15 && minor.unwrap_or(0) >= 3),
        (None, _) => true,
    }
}

fn sdk(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    npm_dependency(planner, "posthog-js", POSTHOG_JS_VERSION)
}

fn initialise(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    let layout = layout(planner)?;
    let (script, component) = match layout.typescript {
        true => ("ts", "tsx"),
        false => ("js", "jsx"),
    };
    let key = match layout.typescript {
        true => format!("process.env.{}!", framework.key_variable),
        false => format!("process.env.{}", framework.key_variable),
    };
    let init = format!(
        "posthog.init({key}, {{\n  api_host: process.env.{},\n  defaults: '2025-05-24',\n}});\n",
        framework.host_variable
    );
    if layout.instrumentation_client {
        let path = format!("{}instrumentation-client.{script}", layout.base);
        let block = format!("import posthog from 'posthog-js';\n\n{init}");
        return file_with(
            planner,
            &path,
            &block,
            "`{path}` initialises PostHog in the browser",
        );
    }
    match layout.router {
        Router::App => app_router_provider(planner, &layout, component, &init),
        Router::Pages => pages_app(planner, &layout, component, &init),
    }
}

/// A new file holding `block`; an existing one gets it at its top (read
/// first), or is left as it is when it already initialises PostHog.
fn file_with(
    planner: &mut Planner<'_>,
    path: &str,
    block: &str,
    line: &str,
) -> Result<Task, Blocked> {
    let line = line.replace("{path}", path);
    match planner.read(path)? {
        None => Ok(Task::Acts(vec![Act::Write {
            path: path.to_owned(),
            content: block.to_owned(),
        }])),
        Some(existing) if existing.contains("posthog.init(") => Ok(Task::Satisfied(line)),
        Some(existing) => {
            let mut edits = FileEdits::new(path, existing);
            match edits.apply(text::add_js_lines_at_top(existing, &format!("{block}\n"))) {
                true => Ok(Task::Acts(edits.acts)),
                false => Ok(Task::Skip(format!(
                    "initialise PostHog in `{path}`: no anchor found"
                ))),
            }
        }
    }
}

/// Before 15.3 with the App Router: a client provider, and the root layout
/// wrapping its children in it.
fn app_router_provider(
    planner: &mut Planner<'_>,
    layout: &Layout,
    component: &str,
    init: &str,
) -> Result<Task, Blocked> {
    let dir = format!("{}app", layout.base);
    let provider = format!("{dir}/providers.{component}");
    let children = match layout.typescript {
        true => "{ children }: { children: React.ReactNode }",
        false => "{ children }",
    };
    let indented: String = init.lines().map(|line| format!("    {line}\n")).collect();
    let content = format!(
        "'use client';\n\nimport posthog from 'posthog-js';\nimport {{ PostHogProvider as Provider }} from 'posthog-js/react';\nimport {{ useEffect }} from 'react';\n\nexport function PostHogProvider({children}) {{\n  useEffect(() => {{\n{indented}  }}, []);\n\n  return <Provider client={{posthog}}>{{children}}</Provider>;\n}}\n"
    );
    let provider_task = file_with(planner, &provider, &content, "")?;
    if let Task::Acts(acts) = provider_task {
        return Ok(Task::Acts(acts));
    }
    let layouts: Vec<String> = ["tsx", "jsx", "js"]
        .iter()
        .map(|ext| format!("{dir}/layout.{ext}"))
        .collect();
    let Some(layout_path) = planner.first_existing(&layouts)? else {
        return Ok(Task::Skip(format!(
            "wrap the root layout in `PostHogProvider`: no `{dir}/layout` file"
        )));
    };
    let Some(text) = planner.read(&layout_path)? else {
        return Ok(Task::Skip(format!("`{layout_path}` could not be read")));
    };
    if text.contains("<PostHogProvider>") {
        return Ok(Task::Satisfied(format!(
            "`{provider}` initialises PostHog and `{layout_path}` wraps the app in it"
        )));
    }
    let mut edits = FileEdits::new(&layout_path, text);
    if !text.contains("from './providers'") {
        edits.apply(text::add_js_lines_at_top(
            text,
            "import { PostHogProvider } from './providers';\n",
        ));
    }
    let current = edits.text.clone();
    let wrapped = text::find_line(&current, |line| line.contains("{children}")).map(|line| {
        let old = format!("{line}\n");
        let new = format!(
            "{}\n",
            line.replacen(
                "{children}",
                "<PostHogProvider>{children}</PostHogProvider>",
                1
            )
        );
        (old, new)
    });
    match edits.apply(wrapped) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "wrap `{{children}}` of `{layout_path}`: not found once"
        ))),
    }
}

/// Before 15.3 with the Pages Router: `_app` initialises PostHog in the
/// browser and wraps the page in its provider.
fn pages_app(
    planner: &mut Planner<'_>,
    layout: &Layout,
    component: &str,
    init: &str,
) -> Result<Task, Blocked> {
    let dir = format!("{}pages", layout.base);
    let candidates: Vec<String> = ["tsx", "jsx", "js"]
        .iter()
        .map(|ext| format!("{dir}/_app.{ext}"))
        .collect();
    let indented: String = init.lines().map(|line| format!("  {line}\n")).collect();
    let guard = format!("if (typeof window !== 'undefined') {{\n{indented}}}\n");
    let Some(path) = planner.first_existing(&candidates)? else {
        let props = match layout.typescript {
            true => "import type { AppProps } from 'next/app';\n",
            false => "",
        };
        let signature = match layout.typescript {
            true => "{ Component, pageProps }: AppProps",
            false => "{ Component, pageProps }",
        };
        return Ok(Task::Acts(vec![Act::Write {
            path: format!("{dir}/_app.{component}"),
            content: format!(
                "{props}{imports}\n{guard}\nexport default function App({signature}) {{\n  return (\n    <PostHogProvider client={{posthog}}>\n      <Component {{...pageProps}} />\n    </PostHogProvider>\n  );\n}}\n",
                imports = text::POSTHOG_PROVIDER_IMPORTS,
            ),
        }]));
    };
    let Some(text) = planner.read(&path)? else {
        return Ok(Task::Skip(format!("`{path}` could not be read")));
    };
    if text.contains("posthog.init(") {
        return Ok(Task::Satisfied(format!("`{path}` initialises PostHog")));
    }
    let mut edits = FileEdits::new(&path, text);
    edits.apply(text::add_js_lines_at_top(
        text,
        &format!("{}\n{guard}", text::POSTHOG_PROVIDER_IMPORTS),
    ));
    let current = edits.text.clone();
    edits.apply(text::wrap_in_posthog_provider(
        &current,
        "<Component {...pageProps} />",
    ));
    Ok(edits.into_task("initialise PostHog"))
}

/// An event captured on the home page when it is a client component.
fn capture(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    let layout = layout(planner)?;
    let pages: Vec<String> = SCRIPT_EXTENSIONS
        .iter()
        .map(|ext| match layout.router {
            Router::App => format!("{}app/page.{ext}", layout.base),
            Router::Pages => format!("{}pages/index.{ext}", layout.base),
        })
        .collect();
    let Some(page) = planner.first_existing(&pages)? else {
        return Ok(Task::Skip(
            "capture an event: no home page was found".to_owned(),
        ));
    };
    let Some(text) = planner.read(&page)? else {
        return Ok(Task::Skip(format!("`{page}` could not be read")));
    };
    if text.contains("posthog.capture(") {
        return Ok(Task::Satisfied(format!("`{page}` captures an event")));
    }
    let client = layout.router == Router::Pages || text.lines().any(text::is_use_client);
    if !client {
        return Ok(Task::Skip(format!(
            "capture an event in `{page}`: it is a server component (autocapture records its views)"
        )));
    }
    let mut edits = FileEdits::new(&page, text);
    if !text.contains("from 'posthog-js'") {
        edits.apply(text::add_js_lines_at_top(
            text,
            "import posthog from 'posthog-js';\n",
        ));
    }
    let current = edits.text.clone();
    match edits.apply(text::js_capture(&current)) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "capture an event in `{page}`: no handler found"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrumentation_client_needs_next_15_3() {
        let cases: &[(Option<&str>, bool)] = &[
            (Some("15.3.3"), true),
            (Some("^15.3.0"), true),
            (Some("16.0.0"), true),
            (Some("15.2.4"), false),
            (Some("^14.2.5"), false),
            (Some("latest"), true),
            (None, true),
        ];
        for (version, expected) in cases {
            assert_eq!(at_least_15_3(*version), *expected, "{version:?}");
        }
        assert_eq!(
            next_version("{\n  \"dependencies\": {\n    \"next\": \"^14.2.5\",\n"),
            Some("^14.2.5")
        );
    }
}
