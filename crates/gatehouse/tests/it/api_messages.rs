//! Secure messages (issue 16) over the JSON API, on both databases: a thread sent with a PDF,
//! listed, read, answered; the staff mailbox's filters, assignment, a note the practice never
//! sees, resolving and reopening (by staff and by a practice reply); and the refusals, each of
//! which changes nothing: another practice's administrator, a colleague who is neither author nor
//! administrator, an auditor, another plan's staff, a "PDF" that is not one, a file too large,
//! too many files, an empty subject.

use crate::both;
use crate::support::fixtures::Person;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use base64::Engine;
use gatehouse_domain::staff::StaffRole;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SUBJECT: &str = "Denied claim for the Whitfield twins";
const BODY: &str = "Please look at the denial again; the referral is attached. Quokka-body-7731";
const NOTE: &str = "Check the Whitfield eligibility first. Pangolin-note-5521";
const TIN_A: &str = "825671892";
const TIN_B: &str = "914407731";

/// A one-page PDF: header, three objects, cross-reference table, trailer.
fn small_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes());
    out
}

/// A file as the API takes it.
fn file(name: &str, bytes: &[u8]) -> Value {
    json!({"file_name": name, "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
}

/// Someone calling the API: the path prefix of their plan and their session token.
struct Caller {
    prefix: String,
    token: String,
}

/// The people of two practices of the plan, its staff and another plan's administrator, each
/// signed in to the API.
struct World {
    app: TestApp,
    practice_a: i64,
    /// Works for A (billing staff): writes the threads.
    author: Caller,
    admin_a: Caller,
    admin_b: Caller,
    /// Works for A too, neither author nor administrator.
    colleague: Caller,
    agent: Caller,
    agent2: Caller,
    agent2_id: i64,
    /// Staff without the messages permission.
    auditor: Caller,
    other_staff: Caller,
}

/// Signs `p` in to the API of their plan (password, then the texted code).
async fn sign_in(app: &TestApp, p: &Person) -> Caller {
    let prefix = format!("/p/{}/api/v1", p.plan.row.slug);
    let body = json!({"username": p.username, "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", &format!("{prefix}/signin"), None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "sign-in of {}: {v}", p.username);
    let first = v["session_token"].as_str().expect("token").to_owned();
    let code = app.code_for(&p.plan, &p.phone()).await;
    let (s, v) =
        app.call("POST", &format!("{prefix}/two-step/verify"), Some(&first), Some(json!({"code": code}))).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("complete")), "{v}");
    Caller { prefix, token: v["session_token"].as_str().expect("token").to_owned() }
}

impl World {
    async fn build(backend: Backend) -> Option<Self> {
        let app = TestApp::start(backend).await?;
        let plan = app.plan.clone();
        let list = [(1, TIN_A, "Lakeside Family Medicine"), (2, TIN_B, "Cedar Valley Pediatrics")];
        let [pa, pb]: [_; 2] = app.practices(&plan, &list).await.try_into().expect("two practices");
        let admin_a = app.person(&plan, "admin_a", 1001).await;
        app.admin_of(&admin_a, &pa).await;
        let admin_b = app.person(&plan, "admin_b", 1002).await;
        app.admin_of(&admin_b, &pb).await;
        let author = app.person(&plan, "author", 1003).await;
        app.member_of(&author, &pa, &admin_a).await;
        let colleague = app.person(&plan, "colleague", 1004).await;
        app.member_of(&colleague, &pa, &admin_a).await;
        let agent = app.staff(&plan, "agent", 1005, StaffRole::HelpDesk).await;
        let agent2 = app.staff(&plan, "agent2", 1006, StaffRole::HelpDesk).await;
        let auditor = app.staff(&plan, "auditor", 1007, StaffRole::Auditor).await;
        let other = app.plan("north", "Northwind Health").await;
        let other_staff = app.staff(&other, "north_admin", 2001, StaffRole::PlanAdmin).await;
        let practice =
            |tin: &str| format!("SELECT id FROM practices WHERE plan_id = {} AND tax_id = '{tin}'", plan.id().0);
        let practice_a = app.ids(&practice(TIN_A)).await[0];
        Some(Self {
            practice_a,
            author: sign_in(&app, &author).await,
            admin_a: sign_in(&app, &admin_a).await,
            admin_b: sign_in(&app, &admin_b).await,
            colleague: sign_in(&app, &colleague).await,
            agent: sign_in(&app, &agent).await,
            agent2: sign_in(&app, &agent2).await,
            agent2_id: agent2.id.0,
            auditor: sign_in(&app, &auditor).await,
            other_staff: sign_in(&app, &other_staff).await,
            app,
        })
    }

    /// Calls the API as `who`.
    async fn call(&self, who: &Caller, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.app.call(method, &format!("{}{path}", who.prefix), Some(&who.token), body).await
    }

    /// The author's standard thread for A, with one PDF.
    async fn send(&self) -> i64 {
        let body = json!({
            "practice_id": self.practice_a, "topic": "claims", "subject": SUBJECT, "body": BODY,
            "claim_number": "C-2026-4410", "attachments": [file("C:\\scans\\referral.pdf", &small_pdf())],
        });
        let (s, v) = self.call(&self.author, "POST", "/messages", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_i64().expect("thread id")
    }

    /// The thread as `who` reads it.
    async fn read(&self, who: &Caller, id: i64) -> Value {
        let (s, v) = self.call(who, "GET", &format!("/messages/{id}"), None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// The mailbox's thread ids for `query`, as the agent lists it.
    async fn mailbox(&self, query: &str) -> Vec<i64> {
        let (s, v) = self.call(&self.agent, "GET", &format!("/mailbox?{query}"), None).await;
        assert_eq!(s, StatusCode::OK, "{query}: {v}");
        v["threads"].as_array().expect("threads").iter().filter_map(|t| t["thread"]["id"].as_i64()).collect()
    }

    /// Downloads an attachment as `who`: status, content type, disposition and bytes.
    async fn download(&self, who: &Caller, id: i64) -> (StatusCode, String, String, Vec<u8>) {
        let r = self
            .app
            .api()
            .get(self.app.url(&format!("{}/messages/attachments/{id}", who.prefix)))
            .bearer_auth(&who.token)
            .send()
            .await
            .expect("download");
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let (content_type, disposition) = (header("content-type"), header("content-disposition"));
        (r.status(), content_type, disposition, r.bytes().await.expect("bytes").to_vec())
    }

    /// Rows of threads, messages, attachments and message audit events, and the threads' status
    /// and assignment: what a refusal must leave as it is.
    async fn state(&self) -> (Vec<i64>, Vec<String>) {
        let app = &self.app;
        let counts = vec![
            app.count("SELECT COUNT(*) FROM message_threads").await,
            app.count("SELECT COUNT(*) FROM messages").await,
            app.count("SELECT COUNT(*) FROM message_attachments").await,
            app.count(
                "SELECT COUNT(*) FROM audit_events WHERE action LIKE 'message.%' AND action <> 'message.read_by_staff'",
            )
            .await,
            app.count("SELECT COUNT(*) FROM message_reads WHERE archived = 1").await,
        ];
        let threads: Vec<(i64, String, Option<i64>)> =
            sqlx::query_as("SELECT id, status, assigned_to FROM message_threads ORDER BY id")
                .fetch_all(app.running.services.db.pool())
                .await
                .expect("threads");
        (counts, threads.into_iter().map(|(id, s, a)| format!("{id}:{s}:{a:?}")).collect())
    }
}

#[track_caller]
fn refused(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (s, v) = answer;
    assert_eq!((*s, v["error"]["code"].as_str()), (status, Some(code)), "{v}");
}

async fn a_thread_from_sending_to_reopening(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.send().await;

    // Listed for the author and A's administrator, unread for the administrator only.
    let (s, v) = w.call(&w.author, "GET", "/messages?folder=sent", None).await;
    assert_eq!((s, v["threads"][0]["thread"]["id"].as_i64()), (StatusCode::OK, Some(id)), "{v}");
    assert_eq!(v["threads"][0]["thread"]["subject"], SUBJECT, "{v}");
    assert_eq!(v["threads"][0]["thread"]["assigned_to"], Value::Null, "staff-only values stay hidden: {v}");
    let (_, v) = w.call(&w.admin_a, "GET", "/messages?folder=unread&q=whitfield", None).await;
    assert_eq!(v["threads"][0]["thread"]["id"].as_i64(), Some(id), "{v}");
    let (_, v) = w.call(&w.admin_a, "GET", "/messages/unread-count", None).await;
    assert_eq!(v["unread"], 1, "{v}");
    let (_, v) = w.call(&w.admin_a, "GET", "/messages?q=nothing-like-it", None).await;
    assert_eq!(v["threads"], json!([]), "{v}");

    // Read, with its PDF, which downloads as sent.
    let v = w.read(&w.admin_a, id).await;
    assert_eq!((v["thread"]["topic"].as_str(), v["thread"]["status"].as_str()), (Some("claims"), Some("new")), "{v}");
    assert_eq!(v["thread"]["claim_number"], "C-2026-4410", "{v}");
    assert_eq!(v["messages"][0]["body"], BODY, "{v}");
    assert!(v["answer_due"].as_i64().is_some() && v["staff_view"] == false, "{v}");
    let pdf = &v["messages"][0]["attachments"][0];
    assert_eq!(
        (pdf["file_name"].as_str(), pdf["content_type"].as_str()),
        (Some("referral.pdf"), Some("application/pdf"))
    );
    let pdf_id = pdf["id"].as_i64().expect("attachment id");
    let (s, content_type, disposition, bytes) = w.download(&w.author, pdf_id).await;
    assert_eq!((s, content_type.as_str()), (StatusCode::OK, "application/pdf"));
    assert!(disposition.starts_with("attachment; filename=\"referral.pdf\""), "{disposition}");
    assert_eq!(bytes, small_pdf());
    let (_, v) = w.call(&w.admin_a, "GET", "/messages/unread-count", None).await;
    assert_eq!(v["unread"], 0, "read now: {v}");

    // The mailbox and its filters.
    assert_eq!(w.mailbox("").await, [id]);
    for hit in ["topic=claims", "status=new", "unassigned=true", &format!("tax_id={TIN_A}"), "older_than_days=0"] {
        assert_eq!(w.mailbox(hit).await, [id], "{hit}");
    }
    for miss in ["topic=referrals", "status=resolved", &format!("tax_id={TIN_B}"), "older_than_days=2"] {
        assert!(w.mailbox(miss).await.is_empty(), "{miss}");
    }
    let (s, v) = w.call(&w.agent, "GET", "/mailbox/agents", None).await;
    assert_eq!((s, v["agents"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{v}");

    // Assigned: in progress, and found by its agent.
    let (s, v) =
        w.call(&w.agent, "POST", &format!("/mailbox/{id}/assign"), Some(json!({"agent_id": w.agent2_id}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(w.mailbox(&format!("agent_id={}", w.agent2_id)).await, [id]);
    assert!(w.mailbox("unassigned=true").await.is_empty());
    let v = w.read(&w.agent, id).await;
    assert_eq!(
        (v["thread"]["status"].as_str(), v["thread"]["assigned_to"].as_i64()),
        (Some("in_progress"), Some(w.agent2_id))
    );
    let (s, v) = w.call(&w.agent, "POST", &format!("/mailbox/{id}/assign"), Some(json!({"agent_id": 999_999}))).await;
    refused(&(s, v), StatusCode::UNPROCESSABLE_ENTITY, "not_an_agent");

    // A note with a file: staff see it, the practice never does, nor its file.
    let note = json!({"body": NOTE, "internal": true, "attachments": [file("eligibility.pdf", &small_pdf())]});
    let (s, v) = w.call(&w.agent2, "POST", &format!("/messages/{id}/replies"), Some(note)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let v = w.read(&w.agent, id).await;
    assert_eq!((v["messages"][1]["internal"].as_bool(), v["messages"][1]["body"].as_str()), (Some(true), Some(NOTE)));
    let note_file = v["messages"][1]["attachments"][0]["id"].as_i64().expect("note's file");
    for who in [&w.author, &w.admin_a] {
        let v = w.read(who, id).await;
        assert_eq!(v["messages"].as_array().map(Vec::len), Some(1), "{v}");
        assert!(!v.to_string().contains("Pangolin"), "{v}");
        assert_eq!(w.download(who, note_file).await.0, StatusCode::NOT_FOUND);
    }
    assert_eq!(w.download(&w.agent, note_file).await.0, StatusCode::OK);

    // A staff reply waits on the practice; resolve, reopen, resolve, and a practice reply reopens.
    let (s, _) =
        w.call(&w.agent2, "POST", &format!("/messages/{id}/replies"), Some(json!({"body": "Reprocessed."}))).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(w.read(&w.author, id).await["thread"]["status"], "waiting_on_practice");
    let (_, v) = w.call(&w.author, "GET", "/messages/unread-count", None).await;
    assert_eq!(v["unread"], 0, "the author read it just now");
    for (action, status) in [("resolve", "resolved"), ("reopen", "in_progress"), ("resolve", "resolved")] {
        let (s, v) = w.call(&w.agent, "POST", &format!("/mailbox/{id}/{action}"), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{action}: {v}");
        assert_eq!(w.read(&w.agent, id).await["thread"]["status"], status, "{action}");
    }
    assert_eq!(w.mailbox("status=resolved").await, [id]);
    let (s, v) =
        w.call(&w.author, "POST", &format!("/messages/{id}/replies"), Some(json!({"body": "Still denied."}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let v = w.read(&w.agent, id).await;
    assert_eq!(v["thread"]["status"], "in_progress", "a practice reply reopens it: {v}");
    assert!(v["answer_due"].as_i64().is_some(), "{v}");

    // Archived out of the administrator's inbox, and back.
    let (s, _) = w.call(&w.admin_a, "PUT", &format!("/messages/{id}/archived"), Some(json!({"archived": true}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = w.call(&w.admin_a, "GET", "/messages", None).await;
    assert_eq!(v["threads"], json!([]), "{v}");
    let (_, v) = w.call(&w.admin_a, "GET", "/messages?folder=archived", None).await;
    assert_eq!(v["threads"][0]["thread"]["id"].as_i64(), Some(id), "{v}");
    let (s, _) = w.call(&w.admin_a, "PUT", &format!("/messages/{id}/archived"), Some(json!({"archived": false}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = w.call(&w.admin_a, "GET", "/messages?folder=all", None).await;
    assert_eq!(v["threads"][0]["thread"]["id"].as_i64(), Some(id), "{v}");

    // Far past the last page: nothing, not an overflow.
    let (s, v) = w.call(&w.author, "GET", "/messages?page=9223372036854775807", None).await;
    assert_eq!((s, v["threads"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{v}");
    let (s, v) = w.call(&w.agent, "GET", "/mailbox?page=9223372036854775807", None).await;
    assert_eq!((s, v["threads"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{v}");
    w.app.stop().await;
}
both!(a_thread_from_sending_to_reopening);

async fn refusals_change_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.send().await;
    let pdf_id = w.read(&w.author, id).await["messages"][0]["attachments"][0]["id"].as_i64().expect("attachment");
    let before = w.state().await;
    let thread = format!("/messages/{id}");
    let replies = format!("/messages/{id}/replies");
    let reply = || Some(json!({"body": "Let me in."}));

    // Another practice's administrator and a colleague who is neither author nor administrator
    // read "not found", whatever they try.
    for who in [&w.admin_b, &w.colleague] {
        refused(&w.call(who, "GET", &thread, None).await, StatusCode::NOT_FOUND, "not_found");
        refused(&w.call(who, "POST", &replies, reply()).await, StatusCode::NOT_FOUND, "not_found");
        let archive = Some(json!({"archived": true}));
        refused(&w.call(who, "PUT", &format!("{thread}/archived"), archive).await, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(w.download(who, pdf_id).await.0, StatusCode::NOT_FOUND);
        let (_, v) = w.call(who, "GET", "/messages", None).await;
        assert_eq!(v["threads"], json!([]), "{v}");
        refused(&w.call(who, "GET", "/mailbox", None).await, StatusCode::FORBIDDEN, "not_staff");
        refused(
            &w.call(who, "POST", &format!("/mailbox/{id}/resolve"), None).await,
            StatusCode::FORBIDDEN,
            "not_staff",
        );
    }
    // B's administrator cannot write for A.
    let for_a = json!({"practice_id": w.practice_a, "topic": "other", "subject": "Hello", "body": "Hi"});
    refused(&w.call(&w.admin_b, "POST", "/messages", Some(for_a.clone())).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(w.state().await, before, "nothing changed for the practices' refusals");

    // An auditor (staff without the messages permission) neither posts nor works the mailbox.
    refused(&w.call(&w.auditor, "POST", &replies, reply()).await, StatusCode::NOT_FOUND, "not_found");
    refused(&w.call(&w.auditor, "POST", "/messages", Some(for_a)).await, StatusCode::NOT_FOUND, "not_found");
    refused(&w.call(&w.auditor, "GET", &thread, None).await, StatusCode::NOT_FOUND, "not_found");
    refused(&w.call(&w.auditor, "GET", "/mailbox", None).await, StatusCode::FORBIDDEN, "not_staff");
    refused(&w.call(&w.auditor, "GET", "/mailbox/agents", None).await, StatusCode::FORBIDDEN, "not_staff");
    let assign = Some(json!({"agent_id": w.agent2_id}));
    refused(
        &w.call(&w.auditor, "POST", &format!("/mailbox/{id}/assign"), assign).await,
        StatusCode::FORBIDDEN,
        "not_staff",
    );
    assert_eq!(w.state().await, before, "nothing changed for the auditor");

    // Another plan's staff: the thread is not theirs to find.
    refused(&w.call(&w.other_staff, "GET", &thread, None).await, StatusCode::NOT_FOUND, "not_found");
    refused(&w.call(&w.other_staff, "POST", &replies, reply()).await, StatusCode::NOT_FOUND, "not_found");
    for action in ["resolve", "reopen"] {
        let a = w.call(&w.other_staff, "POST", &format!("/mailbox/{id}/{action}"), None).await;
        refused(&a, StatusCode::NOT_FOUND, "not_found");
    }
    let a = w.call(&w.other_staff, "POST", &format!("/mailbox/{id}/assign"), Some(json!({"agent_id": null}))).await;
    refused(&a, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(w.download(&w.other_staff, pdf_id).await.0, StatusCode::NOT_FOUND);
    let (s, v) = w.call(&w.other_staff, "GET", "/mailbox", None).await;
    assert_eq!((s, v["threads"].clone()), (StatusCode::OK, json!([])), "{v}");
    assert_eq!(w.state().await, before, "nothing changed for another plan's staff");

    // A practice user writes no notes.
    let note = Some(json!({"body": "A note?", "internal": true}));
    refused(&w.call(&w.author, "POST", &replies, note).await, StatusCode::FORBIDDEN, "not_staff");

    // Files: a "PDF" that is not one, one too large, too many; and bad fields.
    let new = |files: Vec<Value>| json!({"practice_id": w.practice_a, "topic": "claims", "subject": SUBJECT, "body": BODY, "attachments": files});
    let fake = file("notes.pdf", b"MZ\x90\x00 this is a program, not a PDF");
    let a = w.call(&w.author, "POST", "/messages", Some(new(vec![file("ok.pdf", &small_pdf()), fake.clone()]))).await;
    refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "attachment_type");
    assert_eq!(a.1["error"]["field"], "attachments[1]", "{}", a.1);
    let a = w.call(&w.author, "POST", &replies, Some(json!({"body": "See file.", "attachments": [fake]}))).await;
    refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "attachment_type");
    let mut big = small_pdf();
    big.resize(11 * 1024 * 1024, b' ');
    let a = w.call(&w.author, "POST", "/messages", Some(new(vec![file("big.pdf", &big)]))).await;
    refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "attachment_too_large");
    let six = (0..6).map(|i| file(&format!("p{i}.pdf"), &small_pdf())).collect();
    let a = w.call(&w.author, "POST", "/messages", Some(new(six))).await;
    refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "too_many_attachments");
    let a = w
        .call(&w.author, "POST", "/messages", Some(new(vec![json!({"file_name": "x.pdf", "content_base64": "%%%"})])))
        .await;
    refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_encoding");
    for (field, value) in
        [("subject", json!("")), ("subject", json!("   ")), ("body", json!("")), ("claim_number", json!("C 1;"))]
    {
        let mut body = new(vec![]);
        body[field] = value;
        let (s, v) = w.call(&w.author, "POST", "/messages", Some(body)).await;
        assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{v}");
    }
    let mut body = new(vec![]);
    body["topic"] = json!("gossip");
    let a = w.call(&w.author, "POST", "/messages", Some(body)).await;
    assert_eq!((a.0, a.1["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("topic")), "{}", a.1);
    assert_eq!(w.state().await, before, "nothing changed for refused messages");

    // Without a session, nothing is answered but 401.
    let (s, v) = w.app.call("GET", &thread.replace("/messages", "/api/v1/messages"), None, None).await;
    refused(&(s, v), StatusCode::UNAUTHORIZED, "unauthenticated");
    w.app.stop().await;
}
both!(refusals_change_nothing);
