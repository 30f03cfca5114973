//! 1,000 concurrent clients in one room all get a broadcast (bounded in count and time).

mod support;

use std::sync::Arc;
use std::time::Duration;

use netlab_events::core::Config;
use support::Raw;
use tokio::sync::Barrier;

const CLIENTS: usize = 1000;

/// Each client holds two descriptors (its socket and the server's): raise the soft limit to the
/// hard limit if it is lower than what the test needs.
fn raise_fd_limit() {
    let need = (CLIENTS as u64) * 2 + 256;
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get()
        && soft < need
    {
        let _ = rlimit::Resource::NOFILE.set(need.min(hard), hard);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_in_one_room() {
    raise_fd_limit();
    // A plain namespace whose `join` only joins: the chat app would announce every join to the
    // whole room, a million frames for a thousand clients, which is not what this test measures.
    let mut core = netlab_events::core::Core::new(Config::default());
    core.namespace("/scale").on("join", |ctx, ev| {
        ctx.join(ev.args[0].as_str().unwrap_or("big"));
        ctx.ack(vec![]);
    });
    // Every client comes from 127.0.0.1: lift the per-address limit (256 by default).
    let opts = netlab_events::server::ServerOptions {
        limits: netlab_events::limits::Limits {
            max_connections: CLIENTS + 10,
            max_per_peer: CLIENTS + 10,
        },
        ..Default::default()
    };
    let server = netlab_events::server::Server::bind("127.0.0.1:0".parse().unwrap(), core, opts)
        .await
        .expect("bind");
    let addr = server.local_addr();
    let ready = Arc::new(Barrier::new(CLIENTS + 1));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Raw::connect(addr).await;
            c.send(r#"{"type":"connect","ns":"/scale"}"#).await;
            c.recv_type("connected").await;
            c.send(&format!(
                r#"{{"type":"event","ns":"/scale","name":"join","args":["big"],"ack":{i}}}"#
            ))
            .await;
            c.recv_type("ack").await;
            ready.wait().await;
            loop {
                let f = c.recv().await;
                if f["name"] == "message" {
                    return f["args"][0]["text"].as_str().unwrap().to_string();
                }
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), ready.wait())
        .await
        .expect("all joined");
    assert_eq!(server.handle().with(|c, _| c.connection_count()), CLIENTS);
    let n = server.handle().with(|c, now| {
        c.of("/scale", now)
            .to("big")
            .emit("message", vec![serde_json::json!({"text": "to all"})])
    });
    assert_eq!(n, CLIENTS);
    for t in tasks {
        let text = tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(text, "to all");
    }
    server.shutdown().await;
}
