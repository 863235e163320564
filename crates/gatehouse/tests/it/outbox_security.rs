//! The development outbox only on purpose, and no usable secret at rest: `/dev/outbox` is served
//! only with the flag and only on loopback, never lists a channel that has a provider; messages
//! handed to SMTP or the SMS provider keep no token or code; the code key may come from a file.

use crate::both;
use crate::support::{Backend, TestApp, code_in, link_in};
use gatehouse::config::ServerConfig;
use gatehouse_services::ManualClock;
use gatehouse_services::delivery::{DeliveryConfigError, REDACTED};
use gatehouse_services::server_key::ServerKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

const PASSWORD: &str = "maple orbit lantern";

/// What a fake SMTP server received: the envelope recipients and the raw DATA of each email.
#[derive(Debug, Clone, Default)]
struct Mail {
    to: Vec<String>,
    data: String,
}

impl Mail {
    /// Whether the email carries `needle`, reading through quoted-printable soft line breaks.
    fn carries(&self, needle: &str) -> bool {
        self.data.replace("=\n", "").contains(needle)
    }
}

/// A minimal SMTP server on localhost (plain `smtp://`, as lettre speaks it without TLS).
fn fake_smtp() -> (String, Arc<Mutex<Vec<Mail>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind smtp");
    let addr = listener.local_addr().expect("addr");
    let seen: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let s = s.clone();
            std::thread::spawn(move || {
                let _ = smtp_session(stream, &s);
            });
        }
    });
    (format!("smtp://{addr}"), seen)
}

fn smtp_session(stream: std::net::TcpStream, seen: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    let mut w = stream.try_clone()?;
    let lines = BufReader::new(stream).lines();
    w.write_all(b"220 fake.example ESMTP\r\n")?;
    let mut mail = Mail::default();
    let mut in_data = false;
    for line in lines {
        let line = line?;
        if in_data {
            if line == "." {
                in_data = false;
                seen.lock().expect("lock").push(std::mem::take(&mut mail));
                w.write_all(b"250 2.0.0 queued\r\n")?;
            } else {
                mail.data.push_str(&line);
                mail.data.push('\n');
            }
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-fake.example\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
            w.write_all(b"250 2.1.5 ok\r\n")?;
        } else if upper.starts_with("DATA") {
            in_data = true;
            w.write_all(b"354 go ahead\r\n")?;
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            w.write_all(b"250 ok\r\n")?;
        }
    }
    Ok(())
}

/// A fake SMS provider on localhost that records what it is asked to send.
async fn fake_sms() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let s = s.clone();
            async move {
                s.lock().expect("lock").push(v);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind sms");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/send"), seen)
}

async fn post_json(app: &TestApp, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut r = app.api().post(app.url(path)).json(&body);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The stored row of the newest message to `recipient`, by SQL (whatever the dev outbox shows).
async fn stored(app: &TestApp, recipient: &str) -> gatehouse_store::outbox::MessageRow {
    app.last_message_to(recipient).await.expect("a stored message")
}

async fn mail_without_sms_publishes_nothing(backend: Backend) {
    let (smtp, mails) = fake_smtp();
    let Some(app) = TestApp::start_with(backend, |c| {
        c.dev_outbox = false;
        c.smtp_url = Some(smtp);
    })
    .await
    else {
        return;
    };
    let c = app.browser();
    for path in ["/dev/outbox", "/p/test/dev/outbox"] {
        let r = c.get(app.url(path)).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // A sign-in queues a code by text: there is no SMS provider, and nowhere else to put it.
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let (s, v) = post_json(&app, "/api/v1/signin", None, json!({"username": "jpatel", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let link = app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    // The worker sends the email and leaves the text alone: queued, unclaimed, unpublished.
    assert_eq!(app.running.deliverer.deliver_due().await.expect("pass"), 1);
    assert_eq!(app.running.deliverer.deliver_due().await.expect("pass"), 0);
    let text = stored(&app, "+12065559975").await;
    assert_eq!((text.delivered_at, text.attempts, text.last_error), (None, 0, None));
    let sent = mails.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["ana@clinic.example.org"]);
    assert!(!sent.iter().any(|m| m.carries(&code_in(&text.body_text).expect("code"))));
    let token = link.split("token=").nth(1).expect("token");
    assert!(sent[0].carries(token), "the invitation went out by SMTP");
    let r = c.get(app.url("/dev/outbox")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(mail_without_sms_publishes_nothing);

async fn dev_outbox_never_lists_a_channel_with_a_provider(backend: Backend) {
    let (smtp, _mails) = fake_smtp();
    let Some(app) = TestApp::start_with(backend, |c| c.smtp_url = Some(smtp)).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let (s, _) = post_json(&app, "/api/v1/signin", None, json!({"username": "jpatel", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK);
    let link = app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let code = app.last_code("+12065559975").await;
    // Queued or delivered, the email (SMTP configured) is never shown; the text (no provider) is.
    for _ in 0..2 {
        let (status, html) = app.page(&app.browser(), "/dev/outbox").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&code), "the text is in the dev outbox");
        assert!(!html.contains("ana@clinic.example.org") && !html.contains(&link), "{html}");
        app.running.deliverer.deliver_due().await.expect("pass");
    }
    // The text went to the dev outbox: delivered and still readable there.
    let text = stored(&app, "+12065559975").await;
    assert!(text.delivered_at.is_some() && text.body_text.contains(&code));
    app.stop().await;
}
both!(dev_outbox_never_lists_a_channel_with_a_provider);

async fn delivered_messages_keep_no_secret(backend: Backend) {
    let (smtp, mails) = fake_smtp();
    let (sms, texts) = fake_sms().await;
    let Some(app) = TestApp::start_with(backend, |c| {
        c.dev_outbox = false;
        c.smtp_url = Some(smtp);
        c.sms_url = Some(sms);
        c.sms_token = Some("sms-secret".into());
    })
    .await
    else {
        return;
    };
    // The invitation: read before delivery, as the invitee's mailbox would have it.
    let link = app.invite("Maria", "Lopez", "maria@clinic.example.org").await;
    let token = link.split("token=").nth(1).expect("token").to_owned();
    assert_eq!(app.running.deliverer.deliver_due().await.expect("pass"), 1);
    assert!(mails.lock().expect("lock")[0].carries(&token), "SMTP got the link");
    let row = stored(&app, "maria@clinic.example.org").await;
    assert!(row.delivered_at.is_some());
    for part in [&row.subject, &row.body_text, &row.body_html] {
        assert!(!part.contains(&token), "{part}");
    }
    assert!(row.body_text.contains(&format!("token={REDACTED}")), "{}", row.body_text);
    assert!(row.secrets.is_empty());
    let raw: i64 = app.count(&format!("SELECT COUNT(*) FROM outbox WHERE body_text LIKE '%{token}%' OR body_html LIKE '%{token}%' OR secrets <> ''")).await;
    assert_eq!(raw, 0);
    // The link still works: it was delivered.
    let (s, v) = post_json(
        &app,
        "/api/v1/signup",
        None,
        json!({"token": token, "username": "mlopez", "password": PASSWORD, "confirm_password": PASSWORD}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let t = v["session_token"].as_str().expect("session").to_owned();
    // The code by text: the provider gets it, the stored copy loses it, and it still verifies.
    let (s, v) =
        post_json(&app, "/api/v1/two-step/setup", Some(&t), json!({"phone": "2065550143", "method": "text"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = app.last_code("+12065550143").await;
    assert_eq!(app.running.deliverer.deliver_due().await.expect("pass"), 1);
    let sent = texts.lock().expect("lock").clone();
    assert!(sent[0]["body"].as_str().expect("body").contains(&code));
    let row = stored(&app, "+12065550143").await;
    assert!(row.delivered_at.is_some() && !row.body_text.contains(&code) && row.body_text.contains(REDACTED));
    let (s, v) = post_json(&app, "/api/v1/two-step/verify", Some(&t), json!({"code": code})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "terms");
    app.stop().await;
}
both!(delivered_messages_keep_no_secret);

async fn code_key_from_a_file(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gatehouse.key");
    std::fs::write(&path, "vXnW0a7cR1m3Qf5kT8yL2pZ4sD6gH9jB0eN1uC3xV5o=\n").expect("write key");
    let key = ServerKey::read_file(&path).expect("valid key");
    let Some(app) = TestApp::start_with(backend, |c| c.secret_key = Some(key)).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    // A code sent under the file's key verifies...
    let (s, v) = post_json(&app, "/api/v1/signin", None, json!({"username": "jpatel", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = v["session_token"].as_str().expect("session").to_owned();
    let code = app.last_code("+12065559975").await;
    let (s, v) = post_json(&app, "/api/v1/two-step/verify", Some(&t), json!({"code": code})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete");
    // ...and the database holds no key, not even one created on the side.
    assert_eq!(app.count("SELECT COUNT(*) FROM server_secrets").await, 0);
    app.stop().await;
}
both!(code_key_from_a_file);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_dev_outbox_off_this_machine_or_mail_with_nowhere_to_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("never.db").display());
    let start = |adjust: &dyn Fn(&mut ServerConfig)| {
        let mut cfg = ServerConfig::local(db.clone());
        cfg.listen = "127.0.0.1:0".parse().expect("addr");
        cfg.hash = crate::support::test_hash();
        adjust(&mut cfg);
        async move {
            match gatehouse::start(cfg, Arc::new(ManualClock::new(gatehouse_domain::Timestamp(1_800_000_000)))).await {
                Ok(r) => {
                    r.stop().await;
                    None
                }
                Err(e) => Some(e),
            }
        }
    };
    let e = start(&|c| c.base_url = Some("https://portal.example.org".into())).await.expect("refused");
    assert_eq!(
        e.downcast_ref::<DeliveryConfigError>(),
        Some(&DeliveryConfigError::PublicBaseUrl("https://portal.example.org".into()))
    );
    assert!(e.to_string().contains("--dev-outbox") && e.to_string().contains("not localhost"), "{e}");
    let e = start(&|c| c.listen = "0.0.0.0:0".parse().expect("addr")).await.expect("refused");
    assert!(e.to_string().contains("not a loopback address"), "{e}");
    let e = start(&|c| c.dev_outbox = false).await.expect("refused");
    assert!(e.to_string().contains("--smtp-url"), "{e}");
    // Refused before the database is touched.
    assert!(!dir.path().join("never.db").exists());
    // The same public URL is fine with SMTP and the dev outbox off.
    let ok = start(&|c| {
        c.dev_outbox = false;
        c.smtp_url = Some("smtp://127.0.0.1:2525".into());
        c.base_url = Some("https://portal.example.org".into());
    })
    .await;
    assert!(ok.is_none(), "{ok:?}");
}

/// A `gatehouse demo` process, killed when dropped.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn demo_serves_its_outbox_on_loopback(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, pg_name) = match backend {
        Backend::Sqlite => (format!("sqlite://{}", dir.path().join("demo.db").display()), None),
        Backend::Postgres => match crate::support::fresh_pg_database().await {
            Some(u) => {
                let name = u.rsplit('/').next().unwrap_or_default().to_owned();
                (u, Some(name))
            }
            None => return,
        },
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--listen", "127.0.0.1:0", "--database-url", &url])
        .env("RUST_LOG", "error")
        .env_remove("GATEHOUSE_DEV_OUTBOX")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run gatehouse demo");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("Open ") {
                let _ = tx.send(rest.trim_end_matches(" in a browser.").trim_end_matches('/').to_owned());
            }
        }
    });
    let base = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the demo says where it runs");
    assert!(base.starts_with("http://localhost:"), "{base}");
    let html = reqwest::get(format!("{base}/dev/outbox")).await.expect("get").text().await.expect("text");
    assert!(html.contains("maria"), "the demo's pending invitation is in the outbox: {html}");
    assert!(link_in(&html.replace('"', " ")).is_some());
    drop(demo);
    if let Some(name) = pg_name {
        crate::support::drop_pg_database(&name).await;
    }
}
both!(demo_serves_its_outbox_on_loopback);
