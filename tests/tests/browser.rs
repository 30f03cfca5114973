//! The browser page in a real headless Chromium, driven through chromedriver (WebDriver): two
//! browser sessions and one TCP client chat in one room over WebSocket, then over long-polling,
//! then SSE; a dropped connection resumes with no message lost. A screenshot of the page is
//! saved as target/browser-chat.png. `.ci/run` installs `chromium` and `chromium-driver`;
//! elsewhere, without them, the test says so loudly and is skipped.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use netlab_events::core::{Config, Core};
use netlab_events::server::{Hub, Server, ServerOptions};
use netlab_web::{Web, WebOptions, WebServer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, Command};

/// Every wait gives up after this long (a browser start on a busy 2-core machine is slow).
const T: Duration = Duration::from_secs(30);

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(T, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn have(cmd: &str) -> bool {
    let ok = std::process::Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{cmd} is missing in CI: .ci/run installs chromium and chromium-driver"
        );
        eprintln!(
            "SKIPPED: the browser test needs {cmd} (apt-get install chromium chromium-driver)"
        );
    }
    ok
}

/// chromedriver on a free port; returns once it says it listens.
async fn chromedriver() -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    within("chromedriver starts", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("started successfully") {
                return;
            }
        }
        panic!("chromedriver ended before it listened");
    })
    .await;
    // Keep draining its output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://127.0.0.1:{port}"))
}

async fn browser(driver: &str) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=430,1200"]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    within(
        "browser session",
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(driver),
    )
    .await
    .expect("a chromium session")
}

/// Poll a JavaScript condition (the page's own DOM) until it holds.
async fn until(c: &Client, what: &str, script: &str) {
    within(what, async {
        loop {
            let v = c.execute(script, vec![]).await.expect("run script");
            if v == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

async fn status_contains(c: &Client, text: &str) {
    let script = format!(
        "return document.getElementById('status').textContent.includes({});",
        json!(text)
    );
    until(c, &format!("status {text:?}"), &script).await;
}

/// How many chat lines of the page show `text` (exactly once is what we want).
async fn count(c: &Client, text: &str) -> u64 {
    let script = format!(
        "return [...document.querySelectorAll('#messages li')].filter(li => li.dataset.text === {}).length;",
        json!(text)
    );
    c.execute(&script, vec![]).await.unwrap().as_u64().unwrap()
}

async fn shows(c: &Client, text: &str) {
    let script = format!(
        "return [...document.querySelectorAll('#messages li')].some(li => li.dataset.text === {});",
        json!(text)
    );
    until(c, &format!("message {text:?} shown"), &script).await;
    assert_eq!(count(c, text).await, 1, "{text:?} shown more than once");
}

async fn open_page(c: &Client, http: SocketAddr, name: &str, transport: &str) {
    within("goto", c.goto(&format!("http://{http}/")))
        .await
        .unwrap();
    let field = |id: &'static str| async move { c.find(Locator::Id(id)).await.unwrap() };
    field("name").await.send_keys(name).await.unwrap();
    let room = field("room").await;
    room.clear().await.unwrap();
    room.send_keys("classroom").await.unwrap();
    field("transport")
        .await
        .select_by_value(transport)
        .await
        .unwrap();
    field("join").await.click().await.unwrap();
}

async fn say(c: &Client, text: &str) {
    let input = c.find(Locator::Id("text")).await.unwrap();
    input.send_keys(text).await.unwrap();
    c.find(Locator::Id("send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn switch(c: &Client, transport: &str) {
    let sel = c.find(Locator::Id("transport")).await.unwrap();
    sel.select_by_value(transport).await.unwrap();
}

/// A TCP client in the same room: JSON lines, as `nc` would type them.
struct Tcp {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Tcp {
    async fn join(addr: SocketAddr) -> Tcp {
        let (rd, wr) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut t = Tcp {
            rd: BufReader::new(rd),
            wr,
        };
        t.send(json!({"type":"connect","ns":"/chat","auth":{"name":"nc"}}))
            .await;
        t.send(json!({"type":"event","ns":"/chat","name":"join","args":["classroom"]}))
            .await;
        t
    }
    async fn send(&mut self, v: Value) {
        self.wr
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
    }
    async fn say(&mut self, text: &str) {
        self.send(json!({"type":"event","ns":"/chat","name":"message","args":["classroom", text]}))
            .await;
    }
    /// Wait for a chat message with this text.
    async fn hears(&mut self, text: &str) {
        within(&format!("tcp hears {text:?}"), async {
            loop {
                let mut line = String::new();
                assert!(
                    self.rd.read_line(&mut line).await.unwrap() > 0,
                    "tcp closed"
                );
                let v: Value = serde_json::from_str(&line).unwrap();
                if v["name"] == "message" && v["args"][0]["text"] == text {
                    return;
                }
            }
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_and_a_tcp_client_chat_over_every_transport() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    let mut core = Core::new(Config::default());
    let history = netlab_events::chat::install(&mut core);
    let hub = Hub::restored(core, ServerOptions::default()).unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let tcp_server = Server::bind_hub(any, hub.clone()).await.unwrap();
    let web = WebServer::bind(any, Web::new(hub, history, WebOptions::default()))
        .await
        .unwrap();
    let http = web.local_addr();
    let (_driver, driver_url) = chromedriver().await;
    let ada = browser(&driver_url).await;
    let bob = browser(&driver_url).await;

    // WebSocket.
    open_page(&ada, http, "ada", "ws").await;
    open_page(&bob, http, "bob", "ws").await;
    status_contains(&ada, "Connected over WebSocket").await;
    status_contains(&bob, "Connected over WebSocket").await;
    let mut nc = Tcp::join(tcp_server.local_addr()).await;
    say(&ada, "ada over websocket").await;
    for page in [&ada, &bob] {
        shows(page, "ada over websocket").await;
    }
    nc.hears("ada over websocket").await;
    nc.say("nc to the websockets").await;
    say(&bob, "bob over websocket").await;
    for page in [&ada, &bob] {
        shows(page, "nc to the websockets").await;
        shows(page, "bob over websocket").await;
    }

    // The same sessions, now over long-polling: resumed, nothing shown twice.
    switch(&ada, "poll").await;
    switch(&bob, "poll").await;
    status_contains(&ada, "over HTTP long-polling").await;
    status_contains(&bob, "over HTTP long-polling").await;
    say(&ada, "ada over long-polling").await;
    nc.say("nc to the pollers").await;
    for page in [&ada, &bob] {
        shows(page, "ada over long-polling").await;
        shows(page, "nc to the pollers").await;
        assert_eq!(count(page, "ada over websocket").await, 1);
    }
    nc.hears("ada over long-polling").await;

    // A dropped connection (back on WebSocket): what is said meanwhile arrives once on resume.
    switch(&ada, "ws").await;
    status_contains(&ada, "over WebSocket").await;
    ada.find(Locator::Id("drop"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    status_contains(&ada, "reconnecting").await;
    nc.say("while ada was away").await;
    nc.say("and once more").await;
    status_contains(&ada, "Resumed over WebSocket").await;
    shows(&ada, "while ada was away").await;
    shows(&ada, "and once more").await;

    // Server-Sent Events for bob: reads the room, posts with the API.
    switch(&bob, "sse").await;
    status_contains(&bob, "Server-Sent Events").await;
    nc.say("nc to sse").await;
    shows(&bob, "nc to sse").await;
    say(&bob, "bob over sse and post").await;
    shows(&ada, "bob over sse and post").await;
    nc.hears("bob over sse and post").await;

    // The wire panel lists what was exchanged, with sizes.
    let rows = ada
        .execute(
            "return document.querySelectorAll('#frames tr').length;",
            vec![],
        )
        .await
        .unwrap();
    assert!(rows.as_u64().unwrap() > 10, "{rows}");
    let png = ada.screenshot().await.unwrap();
    // The artifact goes where cargo builds: CARGO_TARGET_DIR when set, else the workspace's target/.
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("browser-chat.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("screenshot: {}", out.display());

    ada.close().await.unwrap();
    bob.close().await.unwrap();
    web.shutdown().await;
    tcp_server.shutdown().await;
}
