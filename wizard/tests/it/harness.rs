//! The wizard as Claude Code's harness: an agent that lists, reads, edits
//! and sets env values the way it would drive Claude Code gets Claude
//! Code's answers, and what it staged is what the project ends up with.

use serde_json::{json, Value};

use crate::cli::{assert_exit, assert_no_secrets, Sandbox};
use crate::stub::{self, Gateway, STUB_URL};

const SCOPE: &str = "llm_gateway:read";

fn tool(id: &str, name: &str, input: Value) -> Value {
    json!({"type": "tool_use", "id": id, "name": name, "input": input})
}

/// The `tool_result` blocks of the request after the first, by id.
fn result<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|message| message["content"].as_array())
        .flatten()
        .find(|block| block["type"] == "tool_result" && block["tool_use_id"] == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

#[test]
fn a_conversation_of_claude_code_tools_stages_and_writes_the_right_files() {
    let sandbox = Sandbox::new();
    let project = sandbox.project().canonicalize().unwrap();
    let root = project.display().to_string();
    std::fs::write(project.join("package-lock.json"), "{}\n").unwrap();
    std::fs::write(project.join(".env.local"), "OTHER=1\n").unwrap();
    let script = vec![
        tool("g1", "Glob", json!({"pattern": "**/package.json"})),
        tool(
            "r1",
            "Read",
            json!({"file_path": format!("{root}/package.json")}),
        ),
        tool(
            "e1",
            "Edit",
            json!({
                "file_path": format!("{root}/package.json"),
                "old_string": "\"next\": \"15.3.3\"",
                "new_string": "\"next\": \"15.3.3\",\n    \"posthog-js\": \"^1.200.0\"",
                "replace_all": false
            }),
        ),
        tool(
            "w1",
            "Write",
            json!({"file_path": format!("{root}/instrumentation-client.ts"), "content": "import posthog from 'posthog-js';\n"}),
        ),
        tool("p1", "mcp__wizard-tools__detect_package_manager", json!({})),
        tool(
            "s1",
            "mcp__wizard-tools__set_env_values",
            json!({
                "filePath": ".env.local",
                "values": {"NEXT_PUBLIC_POSTHOG_KEY": "phc_public_project_key", "NEXT_PUBLIC_POSTHOG_HOST": STUB_URL}
            }),
        ),
    ];
    let stub = stub::start(Gateway::Script(script), SCOPE);
    let output = sandbox.signup(&stub.url);
    assert_exit(&output, 0);
    assert_no_secrets(&sandbox, &output);
    let bodies = stub.gateway_bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one turn of tools, then the final answer");

    // What the harness says about itself: Claude Code's tools, its working
    // directory, and the framework in both spellings.
    let first = &bodies[0];
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Read",
            "Glob",
            "Write",
            "Edit",
            "mcp__wizard-tools__set_env_values",
            "mcp__wizard-tools__detect_package_manager"
        ]
    );
    assert!(first["system"]
        .as_str()
        .unwrap()
        .contains(&format!("Primary working directory: {root}\n")));
    let prompt = first["messages"][0]["content"].as_str().unwrap();
    for line in [
        "framework: next-js",
        "- Framework: Next.js",
        "- PostHog public token: phc_public_project_key",
    ] {
        assert!(prompt.contains(line), "{line} in {prompt}");
    }

    // Claude Code's answers.
    let second = &bodies[1];
    assert_eq!(result(second, "g1")["content"], json!("package.json"));
    assert_eq!(
        result(second, "r1")["content"],
        json!("1\t{\n2\t  \"dependencies\": {\n3\t    \"next\": \"15.3.3\"\n4\t  }\n5\t}\n6\t")
    );
    assert_eq!(
        result(second, "e1")["content"],
        json!(format!("The file {root}/package.json has been updated successfully. (file state is current in your context \u{2014} no need to Read it back)"))
    );
    assert_eq!(
        result(second, "w1")["content"],
        json!(format!("File created successfully at: {root}/instrumentation-client.ts (file state is current in your context \u{2014} no need to Read it back)"))
    );
    assert!(result(second, "p1")["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("\"recommendation\": \"Use npm (npm add).\""));
    assert_eq!(
        result(second, "s1")["content"],
        json!([{"type": "text", "text": "Updated 2 key(s) in .env.local"}])
    );
    for id in ["g1", "r1", "e1", "w1", "p1", "s1"] {
        assert_eq!(result(second, id).get("is_error"), None, "{id}");
    }

    // The project: the edits, and the env file the agent set, once.
    let read = |file: &str| std::fs::read_to_string(project.join(file)).unwrap();
    assert!(read("package.json").contains("\"posthog-js\": \"^1.200.0\""));
    assert_eq!(
        read("instrumentation-client.ts"),
        "import posthog from 'posthog-js';\n"
    );
    assert_eq!(
        read(".env.local"),
        format!(
            "OTHER=1\nNEXT_PUBLIC_POSTHOG_HOST={}\nNEXT_PUBLIC_POSTHOG_KEY=phc_public_project_key\n",
            stub.url
        )
    );
}

#[test]
fn an_agent_that_sets_another_key_is_corrected_not_duplicated() {
    let sandbox = Sandbox::new();
    let stub = stub::start(
        Gateway::Script(vec![tool(
            "s1",
            "mcp__wizard-tools__set_env_values",
            json!({"filePath": ".env.local", "values": {"NEXT_PUBLIC_POSTHOG_KEY": "phc_somebody_else", "NEXT_PUBLIC_POSTHOG_HOST": "https://elsewhere.example"}}),
        )]),
        SCOPE,
    );
    let output = sandbox.signup(&stub.url);
    assert_eq!(output.status.code(), Some(0));
    let env = std::fs::read_to_string(sandbox.project().join(".env.local")).unwrap();
    assert_eq!(
        env,
        format!(
            "NEXT_PUBLIC_POSTHOG_KEY=phc_public_project_key\nNEXT_PUBLIC_POSTHOG_HOST={}\n",
            stub.url
        )
    );
}

#[test]
fn an_agent_asking_again_for_a_failed_read_is_stopped_and_nothing_is_written() {
    let sandbox = Sandbox::new();
    // The stub plays the same turn on every request that has no assistant
    // message yet; here the agent repeats its failed read in one turn.
    let read = json!({"file_path": "app/missing.tsx"});
    let stub = stub::start(
        Gateway::Script(vec![
            tool(
                "w1",
                "Write",
                json!({"file_path": "fine.ts", "content": "x"}),
            ),
            tool("r1", "Read", read.clone()),
            tool("r2", "Read", read),
        ]),
        SCOPE,
    );
    let before = sandbox.snapshot();
    let output = sandbox.signup(&stub.url);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("Read app/missing.tsx: File does not exist."),
        "{stderr}"
    );
    assert!(
        stderr.contains("asked for again after it failed"),
        "{stderr}"
    );
    assert_eq!(sandbox.snapshot(), before);
    assert_eq!(stub.gateway_bodies.lock().unwrap().len(), 1);
}
