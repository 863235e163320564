//! The message center's pages over HTTP, on both databases (issue 16): a practice user writes
//! with a file, the mailbox's filters find it, an agent adds a note the practice never sees and
//! replies, the header counts the unread, the file downloads only for the thread's readers,
//! assignment, resolve and reopen, archive; bad input gets its message and changes nothing.

use crate::both;
use crate::secure_messages::{BODY, SUBJECT, World, small_pdf, small_png};
use crate::support::fixtures::Person;
use crate::support::{Backend, csrf, location};
use gatehouse_domain::Duration;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};

const NOTE: &str = "Internal: eligibility checked. Marmot-note-4410";
const REPLY: &str = "We reprocessed the claim today. Heron-reply-2208";

impl World {
    async fn browser(&self, p: &Person) -> Client {
        self.app.signed_in_browser(&p.username, p.phone_tail).await
    }

    /// Posts a multipart form to `action` (the CSRF token in the query, as the pages send it),
    /// with the token of the page at `form_page`; returns status, body and `Location`.
    async fn upload(
        &self,
        c: &Client,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
        files: Vec<(&str, Vec<u8>)>,
    ) -> (StatusCode, String, Option<String>) {
        let (_, html) = self.app.page(c, form_page).await;
        let token = csrf(&html);
        let mut form = Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        for (name, bytes) in files {
            form = form.part("files", Part::bytes(bytes).file_name(name.to_owned()));
        }
        let url = format!("{}?csrf_token={token}", self.app.url(action));
        let r = c.post(url).multipart(form).send().await.expect("upload");
        let loc = location(&r);
        (r.status(), r.text().await.expect("text"), loc)
    }

    /// The new-message form's fields for practice A.
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("practice", self.a.0.to_string()),
            ("topic", "claims".into()),
            ("subject", SUBJECT.into()),
            ("body", BODY.into()),
            ("claim_number", "C-2026-4410".into()),
        ]
    }

    async fn send_page(
        &self,
        c: &Client,
        fields: &[(&str, String)],
        files: Vec<(&str, Vec<u8>)>,
    ) -> (StatusCode, String, Option<String>) {
        let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.upload(c, "/messages/new", "/messages", &f, files).await
    }
}

/// The number in `/messages/{n}…`.
fn thread_id(loc: &str) -> i64 {
    loc.trim_start_matches("/messages/").split(['?', '#']).next().and_then(|n| n.parse().ok()).expect("thread id")
}

/// The first attachment link's id on a page.
fn file_id(html: &str) -> i64 {
    let at = html.find("/messages/files/").expect("a file link") + "/messages/files/".len();
    html[at..].split('"').next().and_then(|n| n.parse().ok()).expect("file id")
}

async fn a_thread_from_the_inbox_to_the_mailbox_and_back(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let app = &w.app;
    let author = w.browser(&w.author).await;

    let (s, page) = app.page(&author, "/messages").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("No messages here.") && page.contains("Write a new message"), "{page}");
    let (s, page) = app.page(&author, "/messages/new").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Lakeside Family Medicine") && page.contains("Provider profile update"), "{page}");

    let (s, _, loc) = w.send_page(&author, &w.fields(), vec![("C:\\scans\\referral.pdf", small_pdf())]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let loc = loc.expect("to the thread");
    let id = thread_id(&loc);
    let (s, page) = app.page(&author, &loc).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Your message was sent") && page.contains(BODY) && page.contains("referral.pdf"), "{page}");
    assert!(page.contains("C-2026-4410") && page.contains("With the plan"), "{page}");

    // The practice's administrator sees it unread; the colleague and B's administrator do not.
    let admin_a = w.browser(&w.admin_a).await;
    let (_, page) = app.page(&admin_a, "/messages?folder=unread").await;
    assert!(page.contains(SUBJECT) && page.contains("(1 unread)"), "{page}");
    let colleague = w.browser(&w.colleague).await;
    let (_, page) = app.page(&colleague, "/messages").await;
    assert!(!page.contains(SUBJECT), "{page}");
    let file = file_id(&app.page(&author, &format!("/messages/{id}")).await.1);
    for (who, c) in [("colleague", &colleague), ("admin of B", &w.browser(&w.admin_b).await)] {
        for path in [format!("/messages/{id}"), format!("/messages/files/{file}")] {
            let (s, page) = app.page(c, &path).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{who} {path}");
            assert!(!page.contains(SUBJECT) && !page.contains(BODY), "{who} {path}");
        }
    }

    // The mailbox: filters find it or not; a bad Tax ID says so.
    let agent = w.browser(&w.agent).await;
    let (s, _, to) = app.visit(&agent, "/messages").await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/admin/messages")));
    for (query, found) in [
        ("", true),
        ("?topic=claims", true),
        ("?topic=eligibility", false),
        ("?status=new", true),
        ("?status=resolved", false),
        ("?agent=none", true),
        ("?tax_id=825671892", true),
        ("?tax_id=914407731", false),
        ("?age=1", false),
    ] {
        let (s, page) = app.page(&agent, &format!("/admin/messages{query}")).await;
        assert_eq!(s, StatusCode::OK, "{query}");
        assert_eq!(page.contains(SUBJECT), found, "{query}: {page}");
    }
    let (s, page) = app.page(&agent, "/admin/messages?tax_id=12-345").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("field-error"), "{page}");
    let auditor = w.browser(&w.auditor).await;
    assert_eq!(app.page(&auditor, "/admin/messages").await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.page(&auditor, &format!("/admin/messages/{id}")).await.0, StatusCode::FORBIDDEN);

    // Assign to me, a note, then a reply; the practice sees the reply, never the note.
    app.advance(Duration::minutes(5));
    let thread = format!("/admin/messages/{id}");
    let agent_id = w.agent.id.0.to_string();
    let (s, _, _) = app.post_form(&agent, &thread, &format!("{thread}/assign"), &[("agent", &agent_id)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, _) = w
        .upload(
            &agent,
            &thread,
            &format!("{thread}/reply"),
            &[("body", NOTE), ("internal", "1")],
            vec![("eligibility.png", small_png())],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = app.page(&agent, &thread).await;
    assert!(page.contains(NOTE) && page.contains("In progress") && page.contains("Internal note"), "{page}");
    let (s, _, _) =
        w.upload(&agent, &thread, &format!("{thread}/reply"), &[("body", REPLY), ("internal", "0")], vec![]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = app.page(&author, "/messages").await;
    assert!(page.contains("(1 unread)") && page.contains("Unread"), "{page}");
    let (_, page) = app.page(&author, &format!("/messages/{id}")).await;
    assert!(page.contains(REPLY) && !page.contains(NOTE) && !page.contains("eligibility.png"), "{page}");
    assert!(page.contains("Answered"), "{page}");
    let (_, page) = app.page(&author, "/messages").await;
    assert!(!page.contains("unread)"), "read now: {page}");

    // The file downloads for its readers, as a download of its stored type.
    let r = author.get(app.url(&format!("/messages/files/{file}"))).send().await.expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let disposition = r.headers()["content-disposition"].to_str().expect("ascii").to_owned();
    assert!(disposition.starts_with("attachment;") && disposition.contains("referral.pdf"), "{disposition}");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), small_pdf());

    // Resolve; the practice writes again and it opens.
    app.advance(Duration::minutes(5));
    let (s, _, _) = app.post_form(&agent, &thread, &format!("{thread}/status"), &[("resolved", "1")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(app.page(&agent, &thread).await.1.contains("Resolved"));
    let mine = format!("/messages/{id}");
    let (s, _, _) = w.upload(&author, &mine, &format!("{mine}/reply"), &[("body", "One more question.")], vec![]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = app.page(&agent, &format!("/admin/messages?status=in_progress&agent={}", w.agent.id.0)).await;
    assert!(page.contains(SUBJECT), "reopened and still the agent's: {page}");

    // Archive moves it out of the inbox, not away.
    let (s, _, _) = app.post_form(&author, &mine, &format!("{mine}/archive"), &[("archived", "1")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(!app.page(&author, "/messages").await.1.contains(SUBJECT));
    assert!(app.page(&author, "/messages?folder=archived").await.1.contains(SUBJECT));
    assert!(app.page(&admin_a, "/messages").await.1.contains(SUBJECT), "archived for the author only");

    // The email notices name no subject or body.
    for m in w.notices().await {
        for secret in [SUBJECT, BODY, REPLY, NOTE] {
            assert!(!m.body_text.contains(secret) && !m.subject.contains(secret), "{m:?}");
        }
    }
    assert_eq!(w.audited("message.note_added").await, 1);
    assert_eq!(w.audited("message.assigned").await, 1);
    w.app.stop().await;
}

both!(a_thread_from_the_inbox_to_the_mailbox_and_back);

async fn bad_messages_get_their_message_and_change_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let app = &w.app;
    let author = w.browser(&w.author).await;
    let before = w.rows().await;

    let mut empty = w.fields();
    empty[2].1 = String::new();
    let (s, page, _) = w.send_page(&author, &empty, vec![]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Enter a subject.") && page.contains(BODY), "kept what was typed: {page}");

    let (s, page, _) = w.send_page(&author, &w.fields(), vec![("claim.pdf", b"MZ\x90\x00 not a pdf".to_vec())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("is not a PDF, PNG or JPEG file"), "{page}");

    let big = {
        let mut b = small_pdf();
        b.resize(11 * 1024 * 1024, b' ');
        b
    };
    let (s, page, _) = w.send_page(&author, &w.fields(), vec![("scan.pdf", big)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("larger than 10 MB"), "{page}");

    let six = (0..6).map(|_| ("page.pdf", small_pdf())).collect();
    let (s, page, _) = w.send_page(&author, &w.fields(), six).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("at most 5 files"), "{page}");

    // B's practice is not the author's to write for.
    let mut other = w.fields();
    other[0].1 = w.b.0.to_string();
    let (s, page, _) = w.send_page(&author, &other, vec![]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Choose the practice you write for."), "{page}");

    // No CSRF token: refused before anything is read.
    let form =
        Form::new().text("practice", w.a.0.to_string()).text("topic", "claims").text("subject", "x").text("body", "y");
    let r = author.post(app.url("/messages")).multipart(form).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.rows().await, before, "nothing was stored");

    // An empty reply, and a reply to a thread of another practice.
    let id = w.thread().await.0;
    let mine = format!("/messages/{id}");
    let (s, page, _) = w.upload(&author, &mine, &format!("{mine}/reply"), &[("body", "  ")], vec![]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Write your message."), "{page}");
    let admin_b = w.browser(&w.admin_b).await;
    let (s, _, _) = w.upload(&admin_b, "/messages", &format!("{mine}/reply"), &[("body", "Let me in.")], vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 1);
    w.app.stop().await;
}

both!(bad_messages_get_their_message_and_change_nothing);

async fn the_plan_sets_its_message_rules(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let (app, svc) = (&w.app, w.svc());
    let grant = svc.operator_grant(w.plan());
    let meta = gatehouse_services::RequestMeta::cli();
    let base = gatehouse_services::settings::raw_from(&w.plan().row);
    for (field, bad) in [
        ("message_response_days", "0"),
        ("message_response_days", "31"),
        ("message_max_files", "6"),
        ("message_max_file_mb", "11"),
        ("mailbox_email", "team at plan"),
    ] {
        let mut raw = base.clone();
        raw.insert(field.into(), bad.into());
        let r = svc.update_settings(&grant, w.plan(), &raw, &meta).await;
        let Err(gatehouse_services::settings::SettingsError::Invalid(errs)) = r else { panic!("{field}={bad}: {r:?}") };
        assert!(errs.contains_key(field), "{field}={bad}: {errs:?}");
    }
    let mut raw = base.clone();
    for (k, v) in [
        ("message_response_days", "5"),
        ("message_max_files", "2"),
        ("message_max_file_mb", "1"),
        ("mailbox_email", "mailbox@plan.example"),
    ] {
        raw.insert(k.into(), v.into());
    }
    svc.update_settings(&grant, w.plan(), &raw, &meta).await.expect("settings");

    // The form says the plan's numbers, and holds a sender to them.
    let author = w.browser(&w.author).await;
    let (_, page) = app.page(&author, "/messages/new").await;
    assert!(page.contains("up to 2 files of 1 MB each"), "{page}");
    let (_, page) = app.page(&author, "/messages").await;
    assert!(page.contains("within 5 business days"), "{page}");
    let three = (0..3).map(|_| ("page.pdf", small_pdf())).collect();
    let (s, page, _) = w.send_page(&author, &w.fields(), three).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("at most 2 files"), "{page}");
    let two_mb = {
        let mut b = small_pdf();
        b.resize(2 * 1024 * 1024, b' ');
        b
    };
    let (s, page, _) = w.send_page(&author, &w.fields(), vec![("scan.pdf", two_mb)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("larger than 1 MB"), "{page}");
    // A new thread is announced to the team's address, not to each agent.
    let (s, _, _) = w.send_page(&author, &w.fields(), vec![]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let to: Vec<String> = w.notices().await.into_iter().map(|m| m.recipient).collect();
    assert_eq!(to, vec!["mailbox@plan.example".to_owned()]);
    w.app.stop().await;
}

both!(the_plan_sets_its_message_rules);
