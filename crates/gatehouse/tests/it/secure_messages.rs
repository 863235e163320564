//! Secure messages (issue 16) through the service, on both databases: who reads a thread (its
//! author, the practice's administrators, mailbox staff; everyone else reads "not found"), staff
//! notes, how messages move a thread's status, attachments checked by content and size, notices
//! without content and once per thread until read, the audit log without subject or body, bad
//! input, and two staff replies at once.

use crate::both;
use crate::support::fixtures::Person;
use crate::support::{Backend, TestApp};
use gatehouse_domain::message_topics::TopicCode;
use gatehouse_domain::secure_messages::{AttachmentProblem, IncomingFile, NewThreadForm, ThreadStatus};
use gatehouse_domain::staff::StaffRole;
use gatehouse_domain::{AttachmentId, Duration, PracticeId, TaxId, ThreadId};
use gatehouse_services::RequestMeta;
use gatehouse_services::plans::Plan;
use gatehouse_services::secure_messages::{Folder, MailboxFilter, MessageError, ThreadView};
use gatehouse_store::outbox::MessageRow;
use std::fmt::Debug;

pub(crate) const SUBJECT: &str = "Denied claim for the Whitfield twins";
pub(crate) const BODY: &str = "Please look at the denial again; the referral is attached. Quokka-body-7731";
const CLAIM: &str = "C-2026-4410";
const PRACTICE_A: &str = "Lakeside Family Medicine";
const NOTE: &str = "Check the Whitfield eligibility first. Pangolin-note-5521";
const REPLY: &str = "We reprocessed the claim. Axolotl-reply-9034";

/// A one-page PDF as a scanner writes it: header, three objects, cross-reference table, trailer.
pub(crate) fn small_pdf() -> Vec<u8> {
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
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// The eight-byte PNG signature and an image header: enough for the content check.
pub(crate) fn small_png() -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    b.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    b
}

fn pdf_file(name: &str) -> IncomingFile {
    IncomingFile { name: name.into(), bytes: small_pdf() }
}

fn form() -> NewThreadForm {
    NewThreadForm {
        topic: "claims".into(),
        subject: SUBJECT.into(),
        body: BODY.into(),
        claim_number: CLAIM.into(),
        ..Default::default()
    }
}

/// Fails unless `r` is "not found".
fn not_found<T: Debug>(r: Result<T, MessageError>, what: &str) {
    assert!(matches!(r, Err(MessageError::NotFound)), "{what}: {r:?}");
}

/// Practice A and B of the plan with their people, the plan's staff, and a second plan's staff.
pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) a: PracticeId,
    pub(crate) b: PracticeId,
    /// Works for A (billing staff): writes the threads.
    pub(crate) author: Person,
    pub(crate) admin_a: Person,
    pub(crate) admin_b: Person,
    /// Works for A too, neither author nor administrator.
    pub(crate) colleague: Person,
    /// Help desk agents (messages permission).
    pub(crate) agent: Person,
    pub(crate) agent2: Person,
    /// Staff without the messages permission.
    pub(crate) auditor: Person,
    /// A plan administrator of another plan.
    pub(crate) other_staff: Person,
}

impl World {
    pub(crate) async fn build(backend: Backend) -> Option<Self> {
        let app = TestApp::start(backend).await?;
        let plan = app.plan.clone();
        let list = [(1, "825671892", PRACTICE_A), (2, "914407731", "Cedar Valley Pediatrics")];
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
            |tax_id: &str| format!("SELECT id FROM practices WHERE plan_id = {} AND tax_id = '{tax_id}'", plan.id().0);
        let a = PracticeId(app.ids(&practice("825671892")).await[0]);
        let b = PracticeId(app.ids(&practice("914407731")).await[0]);
        Some(Self { app, a, b, author, admin_a, admin_b, colleague, agent, agent2, auditor, other_staff })
    }

    pub(crate) fn svc(&self) -> &gatehouse_services::Services {
        &self.app.running.services
    }

    pub(crate) fn plan(&self) -> &Plan {
        &self.app.plan
    }

    /// `who` starts a thread for `practice` (in their own plan).
    async fn start(
        &self,
        who: &Person,
        practice: PracticeId,
        form: &NewThreadForm,
        files: &[IncomingFile],
    ) -> Result<ThreadId, MessageError> {
        self.svc().send_thread(&who.plan, &who.session, practice, form, files, &RequestMeta::cli()).await
    }

    /// The standard thread of `author` for A, with one PDF.
    pub(crate) async fn thread(&self) -> ThreadId {
        self.start(&self.author, self.a, &form(), &[pdf_file("C:\\scans\\referral.pdf")]).await.expect("thread")
    }

    pub(crate) async fn view(&self, who: &Person, id: ThreadId) -> Result<ThreadView, MessageError> {
        self.svc().thread_view(&who.plan, &who.session, id, &RequestMeta::cli()).await
    }

    async fn reply(
        &self,
        who: &Person,
        id: ThreadId,
        body: &str,
        files: &[IncomingFile],
        internal: bool,
    ) -> Result<(), MessageError> {
        self.svc().reply(&who.plan, &who.session, id, body, files, internal, &RequestMeta::cli()).await
    }

    async fn status(&self, id: ThreadId) -> ThreadStatus {
        self.view(&self.agent, id).await.expect("agent reads").thread.status
    }

    /// Rows in message_threads, messages and message_attachments.
    pub(crate) async fn rows(&self) -> [i64; 3] {
        [
            self.app.count("SELECT COUNT(*) FROM message_threads").await,
            self.app.count("SELECT COUNT(*) FROM messages").await,
            self.app.count("SELECT COUNT(*) FROM message_attachments").await,
        ]
    }

    /// The secure-message notices in the outbox, newest first.
    pub(crate) async fn notices(&self) -> Vec<MessageRow> {
        self.app.outbox().await.into_iter().filter(|m| m.kind == "secure_message.v1").collect()
    }

    /// How many notices went to `recipient`.
    async fn notices_to(&self, recipient: &str) -> usize {
        self.notices().await.iter().filter(|m| m.recipient == recipient).count()
    }

    /// How many audit events of `action` the plan has.
    pub(crate) async fn audited(&self, action: &str) -> i64 {
        self.app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE plan_id = {} AND action = '{action}'",
                self.plan().id().0
            ))
            .await
    }

    /// The first attachment of the thread's first message, as `who` sees it.
    async fn first_attachment(&self, who: &Person, id: ThreadId) -> AttachmentId {
        self.view(who, id).await.expect("reads").messages[0].attachments[0].id
    }
}

fn email(p: &Person) -> String {
    format!("{}@example.org", p.username)
}

async fn author_admin_and_agents_read_a_thread(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let plan = w.plan();
    let id = w.thread().await;
    let pdf = small_pdf();

    // The admin has it unread; the author sent it, so has read it.
    assert_eq!(svc.unread_messages(plan, &w.admin_a.session).await.expect("count"), 1);
    assert_eq!(svc.unread_messages(plan, &w.author.session).await.expect("count"), 0);
    for who in [&w.author, &w.admin_a] {
        let inbox = svc.inbox(plan, &who.session, Folder::All, "", 1).await.expect("inbox");
        let line = inbox.lines.iter().find(|l| l.thread.id == id).expect("thread in the inbox");
        assert_eq!(line.unread, who.id == w.admin_a.id, "{}", who.username);
        assert_eq!(line.thread.subject, SUBJECT);
        let found = svc.inbox(plan, &who.session, Folder::All, "whitfield", 1).await.expect("search");
        assert_eq!(found.lines.len(), 1, "subject search");
        let none = svc.inbox(plan, &who.session, Folder::All, "eligibility", 1).await.expect("search");
        assert!(none.lines.is_empty(), "subject search finds only matches");
    }
    let sent = svc.inbox(plan, &w.author.session, Folder::Sent, "", 1).await.expect("sent");
    assert_eq!(sent.lines.len(), 1);

    for who in [&w.author, &w.admin_a, &w.agent] {
        let v = w.view(who, id).await.unwrap_or_else(|e| panic!("{} reads: {e:?}", who.username));
        assert_eq!(v.thread.subject, SUBJECT);
        assert_eq!(v.thread.claim_number.as_deref(), Some(CLAIM));
        assert_eq!(v.thread.practice, w.a);
        assert_eq!(v.thread.status, ThreadStatus::New);
        assert_eq!(v.staff_view, who.id == w.agent.id);
        assert_eq!(v.messages.len(), 1);
        assert_eq!(v.messages[0].body, BODY);
        let files = &v.messages[0].attachments;
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].file_name, "referral.pdf");
        assert_eq!(files[0].content_type, "application/pdf");
        assert_eq!(files[0].size, pdf.len() as i64);
        let d = svc.attachment(plan, &who.session, files[0].id, &RequestMeta::cli()).await.expect("download");
        assert_eq!(d.bytes, pdf, "{} downloads the same bytes", who.username);
        assert_eq!(d.content_type, "application/pdf");
        assert_eq!(d.file_name, "referral.pdf");
        let audited = format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'message.attachment_downloaded' \
             AND actor_user_id = {} AND detail LIKE '%\"attachment\":{}%'",
            who.id.0, files[0].id.0
        );
        assert_eq!(w.app.count(&audited).await, 1, "{}'s download is audited", who.username);
    }

    // Read now: the header count and the inbox say so.
    assert_eq!(svc.unread_messages(plan, &w.admin_a.session).await.expect("count"), 0);
    let unread = svc.inbox(plan, &w.admin_a.session, Folder::Unread, "", 1).await.expect("inbox");
    assert!(unread.lines.is_empty());
    let read = svc.inbox(plan, &w.admin_a.session, Folder::Read, "", 1).await.expect("inbox");
    assert_eq!(read.lines.iter().map(|l| l.thread.id).collect::<Vec<_>>(), [id]);
    // The mailbox lists it for the agent.
    let (lines, _) = svc.mailbox(plan, &w.agent.session, &MailboxFilter::default()).await.expect("mailbox");
    assert_eq!(lines.iter().map(|l| l.thread.id).collect::<Vec<_>>(), [id]);
    // Archiving takes it out of the author's inbox, nothing is deleted.
    svc.archive_thread(plan, &w.author.session, id, true).await.expect("archive");
    assert!(svc.inbox(plan, &w.author.session, Folder::All, "", 1).await.expect("inbox").lines.is_empty());
    let archived = svc.inbox(plan, &w.author.session, Folder::Archived, "", 1).await.expect("inbox");
    assert_eq!(archived.lines.len(), 1);
    assert_eq!(w.rows().await, [1, 1, 1]);
    w.app.stop().await;
}
both!(author_admin_and_agents_read_a_thread);

async fn everyone_else_reads_not_found(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let meta = RequestMeta::cli();
    let id = w.thread().await;
    let file = w.first_attachment(&w.author, id).await;
    let before = w.rows().await;

    for who in [&w.admin_b, &w.colleague, &w.auditor, &w.other_staff] {
        let name = who.username.as_str();
        not_found(w.view(who, id).await, &format!("{name} reads"));
        not_found(w.reply(who, id, "Let me in.", &[], false).await, &format!("{name} replies"));
        not_found(svc.archive_thread(&who.plan, &who.session, id, true).await, &format!("{name} archives"));
        not_found(
            svc.attachment(&who.plan, &who.session, file, &RequestMeta::cli()).await,
            &format!("{name} downloads"),
        );
        let inbox = svc.inbox(&who.plan, &who.session, Folder::All, "", 1).await;
        assert!(inbox.map(|p| p.lines.is_empty()).unwrap_or(true), "{name}'s inbox lists nothing");
    }
    // The auditor has no mailbox and cannot work a thread.
    let r = svc.mailbox(w.plan(), &w.auditor.session, &MailboxFilter::default()).await;
    assert!(matches!(r, Err(MessageError::NotStaff)), "{r:?}");
    let r = svc.assign_thread(w.plan(), &w.auditor.session, id, Some(w.auditor.id), &meta).await;
    assert!(matches!(r, Err(MessageError::NotStaff)), "{r:?}");
    let r = svc.resolve_thread(w.plan(), &w.auditor.session, id, true, &meta).await;
    assert!(matches!(r, Err(MessageError::NotStaff)), "{r:?}");
    // Another plan's staff: their mailbox is empty, the thread is not in their plan.
    let other = &w.other_staff;
    let (lines, _) = svc.mailbox(&other.plan, &other.session, &MailboxFilter::default()).await.expect("mailbox");
    assert!(lines.is_empty());
    not_found(svc.resolve_thread(&other.plan, &other.session, id, true, &meta).await, "other plan resolves");
    not_found(svc.assign_thread(&other.plan, &other.session, id, None, &meta).await, "other plan assigns");
    // Their session is no session of this plan at all.
    let r = w.svc().thread_view(w.plan(), &other.session, id, &meta).await;
    assert!(matches!(r, Err(MessageError::NotSignedIn)), "{r:?}");

    // Ids that do not exist read the same as ids one may not read.
    not_found(w.view(&w.author, ThreadId(id.0 + 1000)).await, "unknown thread");
    not_found(
        svc.attachment(w.plan(), &w.author.session, AttachmentId(file.0 + 1000), &RequestMeta::cli()).await,
        "unknown file",
    );
    not_found(w.reply(&w.agent, ThreadId(id.0 + 1000), "Hello", &[], false).await, "unknown thread reply");

    // A thread for a practice one does not work for.
    not_found(w.start(&w.author, w.b, &form(), &[]).await, "author for B");
    not_found(w.start(&w.admin_b, w.a, &form(), &[]).await, "admin of B for A");
    not_found(w.start(&w.agent, w.a, &form(), &[]).await, "staff for A");
    not_found(w.start(&w.other_staff, w.a, &form(), &[]).await, "other plan for A");

    assert_eq!(w.rows().await, before, "nothing refused was stored");
    assert_eq!(w.view(&w.author, id).await.expect("author reads").messages.len(), 1);
    w.app.stop().await;
}
both!(everyone_else_reads_not_found);

/// Someone removed from a practice no longer reads its conversations, theirs included: the
/// plan's later answers hold member IDs and claim numbers. Their inbox no longer lists the
/// thread, and the thread, its files and a reply read "not found"; the plan's next answer sends
/// them no notice. The practice's administrator still reads it.
async fn an_author_removed_from_the_practice_no_longer_reads_its_threads(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let plan = w.plan();
    let id = w.thread().await;
    let file = w.first_attachment(&w.author, id).await;
    // The practice's administrator revokes the author ("Revoke User"): the account stays active.
    let grant = svc.practice_grant(plan, &w.admin_a.session).await.expect("administrator");
    svc.revoke_member(&grant, plan, w.author.id, &RequestMeta::cli()).await.expect("revoked");
    for folder in [Folder::All, Folder::Sent] {
        let page = svc.inbox(plan, &w.author.session, folder, "", 1).await.expect("inbox");
        assert!(page.lines.is_empty(), "{folder:?}");
    }
    not_found(w.view(&w.author, id).await, "the thread");
    not_found(svc.attachment(plan, &w.author.session, file, &RequestMeta::cli()).await, "its file");
    not_found(w.reply(&w.author, id, "Any news?", &[], false).await, "a reply");
    let notices = w.notices_to(&email(&w.author)).await;
    w.reply(&w.agent, id, REPLY, &[], false).await.expect("the plan answers");
    assert_eq!(w.notices_to(&email(&w.author)).await, notices, "no notice to someone who cannot read it");
    assert_eq!(svc.unread_messages(plan, &w.author.session).await.expect("count"), 0);
    assert!(w.view(&w.admin_a, id).await.is_ok(), "the practice's administrator still reads it");
    w.app.stop().await;
}
both!(an_author_removed_from_the_practice_no_longer_reads_its_threads);

async fn internal_notes_stay_with_staff(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let plan = w.plan();
    let id = w.thread().await;
    w.app.advance(Duration::minutes(5));
    let png = IncomingFile { name: "eligibility.png".into(), bytes: small_png() };
    w.reply(&w.agent, id, NOTE, &[png], true).await.expect("note");

    // Staff see the note and its file.
    let v = w.view(&w.agent2, id).await.expect("agent2 reads");
    assert_eq!(v.messages.len(), 2);
    let note = &v.messages[1];
    assert!(note.internal && note.from_plan);
    assert_eq!(note.body, NOTE);
    let note_file = note.attachments[0].id;
    let d = svc.attachment(plan, &w.agent2.session, note_file, &RequestMeta::cli()).await.expect("staff download");
    assert_eq!(d.content_type, "image/png");
    // The practice sees neither.
    for who in [&w.author, &w.admin_a] {
        let v = w.view(who, id).await.expect("reads");
        assert_eq!(v.messages.len(), 1, "{} sees no note", who.username);
        assert!(v.messages.iter().all(|m| !m.internal && m.body != NOTE));
        assert!(v.messages.iter().flat_map(|m| &m.attachments).all(|f| f.id != note_file));
        not_found(
            svc.attachment(plan, &who.session, note_file, &RequestMeta::cli()).await,
            "note file for the practice",
        );
        let audited = format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'message.attachment_downloaded' AND actor_user_id = {} \
             AND detail LIKE '%\"attachment\":{}%'",
            who.id.0, note_file.0
        );
        assert_eq!(w.app.count(&audited).await, 0, "a refused download is not one");
    }
    // A note is no news for the practice: not unread, no notice, status unchanged.
    assert_eq!(svc.unread_messages(plan, &w.author.session).await.expect("count"), 0);
    assert_eq!(w.notices_to(&email(&w.author)).await, 0);
    assert_eq!(w.status(id).await, ThreadStatus::New);

    // A practice user cannot write a note.
    let before = w.rows().await;
    for who in [&w.author, &w.admin_a] {
        let r = w.reply(who, id, "Secret?", &[], true).await;
        assert!(matches!(r, Err(MessageError::NotStaff)), "{}: {r:?}", who.username);
    }
    assert_eq!(w.rows().await, before);
    w.app.stop().await;
}
both!(internal_notes_stay_with_staff);

async fn replies_and_assignments_move_the_status(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let plan = w.plan();
    let meta = RequestMeta::cli();
    let id = w.thread().await;
    assert_eq!(w.status(id).await, ThreadStatus::New);

    // Only agents take threads.
    for who in [&w.auditor, &w.author, &w.admin_a, &w.other_staff] {
        let r = svc.assign_thread(plan, &w.agent.session, id, Some(who.id), &meta).await;
        assert!(matches!(r, Err(MessageError::NotAnAgent)), "{}: {r:?}", who.username);
    }
    let r = svc.assign_thread(plan, &w.author.session, id, Some(w.agent.id), &meta).await;
    assert!(matches!(r, Err(MessageError::NotStaff)), "{r:?}");
    assert_eq!(w.status(id).await, ThreadStatus::New);
    assert_eq!(w.view(&w.agent, id).await.expect("reads").thread.assigned_to, None);

    svc.assign_thread(plan, &w.agent.session, id, Some(w.agent2.id), &meta).await.expect("assign");
    let t = w.view(&w.agent, id).await.expect("reads").thread;
    assert_eq!((t.status, t.assigned_to), (ThreadStatus::InProgress, Some(w.agent2.id)));
    let filter = MailboxFilter { assigned_to: Some(w.agent2.id), ..Default::default() };
    let (lines, _) = svc.mailbox(plan, &w.agent.session, &filter).await.expect("mailbox");
    assert_eq!(lines.len(), 1);

    w.app.advance(Duration::minutes(1));
    w.reply(&w.agent2, id, REPLY, &[], false).await.expect("staff reply");
    assert_eq!(w.status(id).await, ThreadStatus::WaitingOnPractice);
    let v = w.view(&w.author, id).await.expect("reads");
    assert!(v.messages[1].from_plan && !v.messages[1].internal);
    assert_eq!(v.answer_due, None, "the plan owes nothing while it waits on the practice");

    w.app.advance(Duration::minutes(1));
    w.reply(&w.author, id, "Thank you, one more question.", &[], false).await.expect("practice reply");
    assert_eq!(w.status(id).await, ThreadStatus::InProgress);

    svc.resolve_thread(plan, &w.agent2.session, id, true, &meta).await.expect("resolve");
    assert_eq!(w.status(id).await, ThreadStatus::Resolved);
    w.app.advance(Duration::minutes(1));
    // The practice writes again: the thread opens again, with its agent.
    w.reply(&w.author, id, "It was denied again.", &[], false).await.expect("reply to resolved");
    assert_eq!(w.status(id).await, ThreadStatus::InProgress);
    assert!(w.view(&w.author, id).await.expect("reads").answer_due.is_some());

    // An unassigned thread, resolved and written to again, is back in the new pile.
    let second = w.start(&w.author, w.a, &form(), &[]).await.expect("second thread");
    svc.resolve_thread(plan, &w.agent.session, second, true, &meta).await.expect("resolve");
    w.reply(&w.admin_a, second, "Reopening this.", &[], false).await.expect("admin reply");
    assert_eq!(w.status(second).await, ThreadStatus::New);
    // Staff reopen too.
    svc.resolve_thread(plan, &w.agent.session, id, true, &meta).await.expect("resolve");
    svc.resolve_thread(plan, &w.agent.session, id, false, &meta).await.expect("reopen");
    assert_eq!(w.status(id).await, ThreadStatus::InProgress);
    assert_eq!(w.audited("message.reopened").await, 1);
    w.app.stop().await;
}
both!(replies_and_assignments_move_the_status);

async fn refused_attachments_store_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.thread().await;
    let before = w.rows().await;
    let notices = w.notices().await.len();
    let audited = w.app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'message.%'").await;

    let fake = IncomingFile { name: "notes.pdf".into(), bytes: b"MZ\x90\x00 this is a program, not a PDF".to_vec() };
    let mut big = small_pdf();
    big.resize(11 * 1024 * 1024, b' ');
    let big = IncomingFile { name: "scan.pdf".into(), bytes: big };
    let six: Vec<IncomingFile> = (1..=6).map(|i| pdf_file(&format!("page{i}.pdf"))).collect();
    let cases: [(&[IncomingFile], AttachmentProblem); 3] = [
        (std::slice::from_ref(&fake), AttachmentProblem::NotAllowed("notes.pdf".into())),
        (std::slice::from_ref(&big), AttachmentProblem::TooLarge { name: "scan.pdf".into(), limit_mb: 10 }),
        (&six, AttachmentProblem::TooMany(5)),
    ];
    for (files, problem) in &cases {
        let r = w.start(&w.author, w.a, &form(), files).await;
        assert!(matches!(&r, Err(MessageError::Attachment(p)) if p == problem), "new thread: {r:?}");
        let r = w.reply(&w.author, id, "Here are the files.", files, false).await;
        assert!(matches!(&r, Err(MessageError::Attachment(p)) if p == problem), "reply: {r:?}");
        let r = w.reply(&w.agent, id, "Files for the team.", files, true).await;
        assert!(matches!(&r, Err(MessageError::Attachment(p)) if p == problem), "note: {r:?}");
    }
    assert_eq!(w.rows().await, before, "nothing stored");
    assert_eq!(w.notices().await.len(), notices, "no notice for a refused message");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'message.%'").await, audited);

    // Five files are fine.
    let five: Vec<IncomingFile> = (1..=5).map(|i| pdf_file(&format!("page{i}.pdf"))).collect();
    w.reply(&w.author, id, "All five pages.", &five, false).await.expect("five files");
    assert_eq!(w.rows().await, [before[0], before[1] + 1, before[2] + 5]);
    w.app.stop().await;
}
both!(refused_attachments_store_nothing);

/// Fails if a notice holds any of the thread's content.
fn assert_content_free(m: &MessageRow) {
    for secret in [SUBJECT, "Whitfield", BODY, "Quokka", CLAIM, PRACTICE_A, "825671892", REPLY, "Axolotl"] {
        for (part, text) in [("subject", &m.subject), ("text", &m.body_text), ("html", &m.body_html)] {
            assert!(!text.contains(secret), "notice to {} has {secret:?} in its {part}", m.recipient);
        }
    }
}

async fn notices_carry_no_content_and_come_once_until_read(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let meta = RequestMeta::cli();
    let (author, agent, agent2) = (email(&w.author), email(&w.agent), email(&w.agent2));
    let id = w.thread().await;
    // A new thread: each agent is told, nobody else.
    assert_eq!(w.notices_to(&agent).await, 1);
    assert_eq!(w.notices_to(&agent2).await, 1);
    assert_eq!(w.notices().await.len(), 2, "only the agents: {:?}", w.notices().await);

    // The plan replies (within the second the author sent it): one notice.
    w.reply(&w.agent, id, REPLY, &[], false).await.expect("reply");
    assert_eq!(w.notices_to(&author).await, 1);
    let notice = w.notices().await.into_iter().find(|m| m.recipient == author).expect("notice");
    assert!(notice.body_text.contains("/messages"), "{}", notice.body_text);
    // Another reply before the author reads the thread: no second notice.
    w.reply(&w.agent2, id, "And one more thing.", &[], false).await.expect("reply");
    assert_eq!(w.notices_to(&author).await, 1);
    w.app.advance(Duration::minutes(3));
    w.reply(&w.agent, id, "Still there?", &[], false).await.expect("reply");
    assert_eq!(w.notices_to(&author).await, 1);
    // Once read, the next reply is news again.
    w.view(&w.author, id).await.expect("author reads");
    w.reply(&w.agent, id, "Following up.", &[], false).await.expect("reply");
    assert_eq!(w.notices_to(&author).await, 2);

    // An assigned thread: the practice's reply goes to its agent only.
    w.app.advance(Duration::minutes(1));
    svc.assign_thread(w.plan(), &w.agent.session, id, Some(w.agent2.id), &meta).await.expect("assign");
    w.reply(&w.author, id, "Thanks, but it is still denied.", &[], false).await.expect("reply");
    assert_eq!(w.notices_to(&agent2).await, 2);
    assert_eq!(w.notices_to(&agent).await, 1);

    // With a team address, new threads notify it instead of each agent.
    w.app.sql(&format!("UPDATE plans SET mailbox_email = 'team@chorus.example' WHERE id = {}", w.plan().id().0)).await;
    let second = w.start(&w.author, w.a, &form(), &[]).await.expect("second thread");
    assert_eq!(w.notices_to("team@chorus.example").await, 1);
    assert_eq!(w.notices_to(&agent).await, 1);
    assert_eq!(w.notices_to(&agent2).await, 2);
    // The team is told once until one of them reads it, then again.
    w.app.advance(Duration::minutes(1));
    w.reply(&w.author, second, "Adding the member's date of birth.", &[], false).await.expect("reply");
    assert_eq!(w.notices_to("team@chorus.example").await, 1, "not read yet: no second notice");
    w.view(&w.agent, second).await.expect("the team reads it");
    w.app.advance(Duration::minutes(1));
    w.reply(&w.author, second, "And the claim number.", &[], false).await.expect("reply");
    assert_eq!(w.notices_to("team@chorus.example").await, 2, "read since: told again");

    let all = w.notices().await;
    assert_eq!(all.len(), 7, "{all:?}");
    for m in &all {
        assert_eq!(m.channel, "email");
        assert_content_free(m);
    }
    w.app.stop().await;
}
both!(notices_carry_no_content_and_come_once_until_read);

async fn audit_records_events_without_content(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let meta = RequestMeta::cli();
    let id = w.thread().await;
    w.view(&w.author, id).await.expect("author reads");
    w.view(&w.admin_a, id).await.expect("admin reads");
    w.view(&w.agent, id).await.expect("agent reads");
    w.reply(&w.agent, id, NOTE, &[], true).await.expect("note");
    w.reply(&w.agent, id, REPLY, &[], false).await.expect("reply");
    svc.assign_thread(w.plan(), &w.agent.session, id, Some(w.agent.id), &meta).await.expect("assign");
    svc.resolve_thread(w.plan(), &w.agent.session, id, true, &meta).await.expect("resolve");

    assert_eq!(w.audited("message.thread_started").await, 1);
    assert_eq!(w.audited("message.read_by_staff").await, 1, "practice users reading are not staff reads");
    assert_eq!(w.audited("message.note_added").await, 1);
    assert_eq!(w.audited("message.replied_by_plan").await, 1);
    assert_eq!(w.audited("message.assigned").await, 1);
    assert_eq!(w.audited("message.resolved").await, 1);
    let who = |action: &str| {
        format!("SELECT actor_user_id FROM audit_events WHERE action = '{action}' AND plan_id = {}", w.plan().id().0)
    };
    assert_eq!(w.app.ids(&who("message.thread_started")).await, [w.author.id.0]);
    assert_eq!(w.app.ids(&who("message.read_by_staff")).await, [w.agent.id.0]);

    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_events")
        .fetch_all(w.svc().db.pool())
        .await
        .expect("audit details");
    let thread_events: Vec<&String> = details.iter().filter(|d| d.contains(&format!("\"thread\":{}", id.0))).collect();
    assert!(thread_events.len() >= 6, "{thread_events:?}");
    for d in &details {
        for secret in [SUBJECT, "Whitfield", BODY, "Quokka", NOTE, "Pangolin", REPLY, "Axolotl", CLAIM] {
            assert!(!d.contains(secret), "audit detail holds {secret:?}: {d}");
        }
    }
    w.app.stop().await;
}
both!(audit_records_events_without_content);

async fn bad_input_is_named_and_stores_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.thread().await;
    let before = w.rows().await;
    let cases = [
        ("subject", NewThreadForm { subject: "   ".into(), ..form() }),
        ("topic", NewThreadForm { topic: "gossip".into(), ..form() }),
        ("body", NewThreadForm { body: "x".repeat(10_001), ..form() }),
    ];
    for (field, f) in &cases {
        let r = w.start(&w.author, w.a, f, &[pdf_file("a.pdf")]).await;
        match r {
            Err(MessageError::Invalid(e)) => {
                assert!(e.get(field).is_some(), "{field} named: {e:?}");
                assert_eq!(e.0.len(), 1, "only {field}: {e:?}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    for body in ["x".repeat(10_001), " \n ".to_owned()] {
        for (who, internal) in [(&w.author, false), (&w.agent, false), (&w.agent, true)] {
            match w.reply(who, id, &body, &[], internal).await {
                Err(MessageError::Invalid(e)) => assert!(e.get("body").is_some(), "{e:?}"),
                other => panic!("reply of {} characters: {other:?}", body.len()),
            }
        }
    }
    // The longest body is fine.
    w.reply(&w.author, id, &"y".repeat(10_000), &[], false).await.expect("10,000 characters");
    assert_eq!(w.rows().await, [before[0], before[1] + 1, before[2]]);
    w.app.stop().await;
}
both!(bad_input_is_named_and_stores_nothing);

async fn two_staff_replies_at_once_both_land(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.thread().await;
    let (a, b) = tokio::join!(
        w.reply(&w.agent, id, "First answer.", &[], false),
        w.reply(&w.agent2, id, "Second answer.", &[], false),
    );
    a.expect("first reply");
    b.expect("second reply");
    let v = w.view(&w.author, id).await.expect("author reads");
    let mut bodies: Vec<&str> = v.messages.iter().skip(1).map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["First answer.", "Second answer."]);
    assert_eq!(v.thread.status, ThreadStatus::WaitingOnPractice);
    assert_eq!(w.notices_to(&email(&w.author)).await, 1, "one notice for both replies");
    assert_eq!(w.audited("message.replied_by_plan").await, 2);
    w.app.stop().await;
}
both!(two_staff_replies_at_once_both_land);

/// The mailbox's filters one by one and its pages, and an administrator's inbox over pages: each
/// source of threads (their own, their practice's) merged, newest first, without repeats.
async fn mailbox_filters_and_inbox_pages(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let plan = w.plan();
    let meta = RequestMeta::cli();
    let topics = ["claims", "eligibility", "referrals"];
    // 27 threads from the author for A, 2 from A's administrator, 3 from B's: a minute apart.
    let mut sent = Vec::new();
    for i in 0..32 {
        let (who, practice) = match i {
            0..=26 => (&w.author, w.a),
            27 | 28 => (&w.admin_a, w.a),
            _ => (&w.admin_b, w.b),
        };
        let f = NewThreadForm { topic: topics[i % 3].into(), subject: format!("Question {i}"), ..form() };
        sent.push(w.start(who, practice, &f, &[]).await.expect("thread"));
        w.app.advance(Duration::days(1));
    }
    let newest_first: Vec<ThreadId> = sent.iter().rev().copied().collect();
    svc.assign_thread(plan, &w.agent.session, sent[0], Some(w.agent2.id), &meta).await.expect("assign");
    svc.assign_thread(plan, &w.agent.session, sent[1], Some(w.agent2.id), &meta).await.expect("assign");
    svc.resolve_thread(plan, &w.agent.session, sent[2], true, &meta).await.expect("resolve");

    // A's administrator: 29 threads (two their own, listed once), 25 on the first page.
    let a_threads: Vec<ThreadId> = newest_first.iter().copied().filter(|id| sent[..29].contains(id)).collect();
    let first = svc.inbox(plan, &w.admin_a.session, Folder::All, "", 1).await.expect("inbox");
    let second = svc.inbox(plan, &w.admin_a.session, Folder::All, "", 2).await.expect("inbox");
    assert!(first.has_next && !second.has_next);
    let listed: Vec<ThreadId> = first.lines.iter().chain(&second.lines).map(|l| l.thread.id).collect();
    assert_eq!(listed, a_threads, "every thread once, newest first, across the pages");
    assert_eq!(svc.unread_messages(plan, &w.admin_a.session).await.expect("count"), 27, "the author's are unread");
    let unread = svc.inbox(plan, &w.admin_a.session, Folder::Unread, "", 2).await.expect("inbox");
    assert_eq!(unread.lines.len(), 2);
    let sent_by = svc.inbox(plan, &w.admin_a.session, Folder::Sent, "", 1).await.expect("inbox");
    assert_eq!(sent_by.lines.iter().map(|l| l.thread.id).collect::<Vec<_>>(), [sent[28], sent[27]]);
    let found = svc.inbox(plan, &w.admin_a.session, Folder::All, "question 2", 1).await.expect("search");
    assert_eq!(found.lines.len(), 10, "2 and 20 to 28");

    let ids = |lines: &[gatehouse_services::secure_messages::MailboxLine]| {
        lines.iter().map(|l| l.thread.id).collect::<Vec<_>>()
    };
    let agent = &w.agent.session;
    let mailbox = |f: MailboxFilter| async move { svc.mailbox(plan, agent, &f).await.expect("mailbox") };
    let (all, more) = mailbox(MailboxFilter::default()).await;
    assert!(more);
    assert_eq!(ids(&all), newest_first[..25]);
    let (rest, more) = mailbox(MailboxFilter { page: 2, ..Default::default() }).await;
    assert!(!more);
    assert_eq!(ids(&rest), newest_first[25..]);
    let topic = Some(TopicCode::REFERRALS);
    let (lines, _) = mailbox(MailboxFilter { topic, ..Default::default() }).await;
    assert_eq!(lines.len(), 10);
    assert!(lines.iter().all(|l| l.thread.topic.as_str() == "referrals"));
    let (lines, _) = mailbox(MailboxFilter { status: Some(ThreadStatus::InProgress), ..Default::default() }).await;
    assert_eq!(ids(&lines), [sent[1], sent[0]]);
    let (lines, _) = mailbox(MailboxFilter { status: Some(ThreadStatus::Resolved), ..Default::default() }).await;
    assert_eq!(ids(&lines), [sent[2]]);
    let (lines, _) = mailbox(MailboxFilter { assigned_to: Some(w.agent2.id), ..Default::default() }).await;
    assert_eq!(ids(&lines), [sent[1], sent[0]]);
    let (lines, more) = mailbox(MailboxFilter { unassigned: true, page: 2, ..Default::default() }).await;
    assert_eq!((lines.len(), more), (5, false), "30 unassigned");
    let (lines, _) = mailbox(MailboxFilter { tax_id: TaxId::parse("914407731").ok(), ..Default::default() }).await;
    assert_eq!(ids(&lines), newest_first[..3]);
    let (lines, _) = mailbox(MailboxFilter { tax_id: TaxId::parse("123456789").ok(), ..Default::default() }).await;
    assert!(lines.is_empty(), "no such Tax ID");
    // Started 30 days ago or earlier: the first three (a day apart, 32 days ago and on).
    let before = svc.now() - 30 * 86_400;
    let (lines, _) = mailbox(MailboxFilter { started_before: Some(before), ..Default::default() }).await;
    assert_eq!(ids(&lines), [sent[2], sent[1], sent[0]]);
    w.app.stop().await;
}
both!(mailbox_filters_and_inbox_pages);

/// A practice user sends at most 30 messages (threads and replies) an hour: the one over is
/// refused and stores nothing, plan staff answering are not counted, and an hour later the user
/// writes again. Another user of the same practice is not held back by the first.
async fn a_practice_user_sends_at_most_thirty_messages_an_hour(backend: Backend) {
    use gatehouse_services::secure_messages::MESSAGES_PER_HOUR;
    let Some(w) = World::build(backend).await else { return };
    let id = w.thread().await;
    for i in 1..MESSAGES_PER_HOUR {
        w.reply(&w.author, id, &format!("Follow-up {i}"), &[], false).await.expect("under the limit");
    }
    let before = w.rows().await;
    assert!(matches!(w.reply(&w.author, id, "One more", &[], false).await, Err(MessageError::TooMany)));
    assert!(matches!(w.start(&w.author, w.a, &form(), &[pdf_file("a.pdf")]).await, Err(MessageError::TooMany)));
    // An "Add Facility" request is a message too: refused the same way, not as a fault.
    let request = gatehouse_domain::profile_update::ProfileUpdateForm { lines: "P1".into(), note: String::new() };
    let r = w.svc().send_profile_update(w.plan(), &w.author.session, w.a, &request, &RequestMeta::cli()).await;
    assert!(matches!(r, Err(gatehouse_services::profile_update::ProfileUpdateError::TooMany)), "{r:?}");
    assert_eq!(w.rows().await, before, "nothing stored");
    // The plan's agents answer regardless, and a colleague writes.
    w.reply(&w.agent, id, "We are looking into it.", &[], false).await.expect("staff are not counted");
    w.start(&w.colleague, w.a, &form(), &[]).await.expect("another user");
    // An hour on, the user writes again.
    w.app.advance(gatehouse_domain::Duration::hours(1));
    w.reply(&w.author, id, "Thanks", &[], false).await.expect("a new hour");
    w.app.stop().await;
}
both!(a_practice_user_sends_at_most_thirty_messages_an_hour);
