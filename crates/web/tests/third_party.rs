//! Clients that no one here wrote: `curl` for the chat API, SSE and the polling transport, and
//! the PyPI `websockets` package for `/ws`. `.ci/run` installs both; outside CI a missing one is
//! reported loudly and its test skipped.

mod support;

use std::process::Stdio;

use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// True if `cmd --version` runs. In CI a missing tool fails the test instead.
fn have(cmd: &str, probe: &[&str]) -> bool {
    let ok = std::process::Command::new(cmd)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{cmd} {probe:?} failed in CI: .ci/run installs it"
        );
        eprintln!("SKIPPED: {cmd} {probe:?} does not run here; .ci/run installs it");
    }
    ok
}

async fn curl(args: &[&str]) -> String {
    let out = within("curl", Command::new("curl").arg("-sS").args(args).output())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn curl_uses_the_chat_api_and_sse() {
    if !have("curl", &["--version"]) {
        return;
    }
    let s = start().await;
    let base = format!("http://{}", s.http_addr());
    let msgs = format!("{base}/api/rooms/lobby/messages");
    let mut tcp = Client::tcp(s.tcp_addr()).await;
    tcp.join_chat("nc", "lobby").await;

    let out = curl(&[
        "-w",
        "\n%{http_code}",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"name":"curl","text":"hello from curl"}"#,
        &msgs,
    ])
    .await;
    assert_eq!(out, "{\"id\":1}\n201");
    assert_eq!(tcp.next_text().await, "hello from curl");

    // SSE: curl streams, the TCP user talks.
    let mut sse = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "-H",
            "Last-Event-ID: 1",
            &format!("{base}/api/rooms/lobby/events"),
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sse.stdout.take().unwrap()).lines();
    // Long-polling with curl: held until the TCP user says something.
    let held = tokio::spawn({
        let url = format!("{msgs}?after=1&wait=10s");
        async move { curl(&[&url]).await }
    });
    tcp.say("lobby", "from nc").await;
    let got: Value = serde_json::from_str(&within("held GET", held).await.unwrap()).unwrap();
    assert_eq!(got["messages"][0]["text"], "from nc");
    assert_eq!(got["messages"][0]["id"], 2);
    let mut event = Vec::new();
    while event.len() < 3 {
        let line = within("sse line", lines.next_line())
            .await
            .unwrap()
            .unwrap();
        if !line.is_empty() && !line.starts_with(':') {
            event.push(line);
        }
    }
    assert_eq!(
        event,
        [
            "id: 2",
            "event: message",
            r#"data: {"id":2,"name":"nc","room":"lobby","text":"from nc"}"#
        ]
    );
    drop(lines);
    let _ = sse.kill().await;
    s.shutdown().await;
}

#[tokio::test]
async fn curl_speaks_the_event_protocol_over_long_polling() {
    if !have("curl", &["--version"]) {
        return;
    }
    let s = start().await;
    let base = format!("http://{}", s.http_addr());
    let open: Value =
        serde_json::from_str(&curl(&["-X", "POST", &format!("{base}/poll")]).await).unwrap();
    let url = format!("{base}/poll?conn={}", open["conn"].as_str().unwrap());
    assert!(
        curl(&[&url])
            .await
            .starts_with(r#"{"type":"hello","version":1,"#)
    );
    let frames = concat!(
        r#"{"type":"connect","ns":"/chat","auth":{"name":"curl"}}"#,
        "\n",
        r#"{"type":"event","ns":"/chat","name":"join","args":["lobby"],"ack":1}"#,
        "\n",
    );
    let out = curl(&[
        "-w",
        "%{http_code}",
        "-H",
        "content-type: application/x-ndjson",
        "--data-binary",
        frames,
        &url,
    ])
    .await;
    assert_eq!(out, "204");
    let got = curl(&[&url]).await;
    let kinds: Vec<String> = got
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["connected", "event", "ack"], "{got}");
    // A TCP user in the room hears curl.
    let mut tcp = Client::tcp(s.tcp_addr()).await;
    tcp.join_chat("nc", "lobby").await;
    let say = r#"{"type":"event","ns":"/chat","name":"message","args":["lobby","polled in"]}"#;
    curl(&[
        "-H",
        "content-type: application/x-ndjson",
        "--data-binary",
        say,
        &url,
    ])
    .await;
    assert_eq!(tcp.next_text().await, "polled in");
    s.shutdown().await;
}

/// The PyPI `websockets` client: connect, join, talk with a TCP user, both ways.
const PY_CLIENT: &str = r#"
import asyncio, json, sys
from websockets.asyncio.client import connect

async def main(url):
    async with connect(url) as ws:
        def out(frame):
            print(json.dumps(frame), flush=True)
        hello = json.loads(await ws.recv())
        out(hello)
        await ws.send(json.dumps({"type": "connect", "ns": "/chat", "auth": {"name": "py"}}))
        await ws.send(json.dumps({"type": "event", "ns": "/chat", "name": "join", "args": ["lobby"], "ack": 1}))
        said = False
        while True:
            frame = json.loads(await ws.recv())
            out(frame)
            if frame.get("type") == "ack" and not said:
                said = True
                print("READY", flush=True)
                await ws.send(json.dumps({"type": "event", "ns": "/chat", "name": "message", "args": ["lobby", "hello from python"]}))
            if frame.get("name") == "message" and frame["args"][0]["text"] == "bye":
                return

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn python_websockets_chats_with_a_tcp_user() {
    if !have("python3", &["-c", "import websockets.asyncio.client"]) {
        return;
    }
    let s = start().await;
    let mut tcp = Client::tcp(s.tcp_addr()).await;
    tcp.join_chat("nc", "lobby").await;
    let mut py = Command::new("python3")
        .args(["-c", PY_CLIENT, &format!("ws://{}/ws", s.http_addr())])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(py.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = within("python line", lines.next_line())
            .await
            .unwrap()
            .expect("python ended early");
        if line == "READY" {
            break;
        }
        seen.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert_eq!(seen[0]["type"], "hello");
    assert_eq!(seen[1]["type"], "connected");
    assert_eq!(
        seen[2],
        json!({"type":"event","ns":"/chat","name":"joined","args":[{"name":"py","room":"lobby"}],"seq":1})
    );
    assert_eq!(tcp.next_text().await, "hello from python");
    tcp.say("lobby", "bye").await;
    let status = within("python exits", py.wait()).await.unwrap();
    assert!(status.success());
    let mut rest = Vec::new();
    while let Some(l) = within("python output", lines.next_line()).await.unwrap() {
        rest.push(serde_json::from_str::<Value>(&l).unwrap());
    }
    let texts: Vec<&str> = rest
        .iter()
        .filter(|f| f["name"] == "message")
        .map(|f| f["args"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello from python", "bye"]);
    s.shutdown().await;
}
