//! Practice administrators managing their own staff, through the services on the real database:
//! the directory, and every change to a user, limited to the Tax IDs the administrator
//! administers (another practice's user, affiliation, Tax ID or provider is "not found", changes
//! nothing, and is audited as denied).

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::ProviderRowId;
use gatehouse_domain::UserId;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{AffiliationId, PracticeId};
use gatehouse_services::access_requests::Scope;
use gatehouse_services::practice::PracticeError;
use gatehouse_services::practice::access::NewMemberAffiliation;
use gatehouse_services::practice::directory::{DirectoryRequest, Total};
use gatehouse_services::practice::invites::InviteRow;
use gatehouse_services::{RequestMeta, SessionInfo};

/// Two practices, each with providers P1/P2 (A) and Q1 (B).
struct World {
    app: TestApp,
    dana: UserId,
    lee: UserId,
    kim: UserId,
    olga: UserId,
    bob: UserId,
    practice_a: i64,
    practice_b: i64,
    /// Provider row ids: A's P1 and P2, B's Q1.
    p1: i64,
    p2: i64,
    q1: i64,
}

async fn exec(app: &TestApp, sql: &str, binds: &[i64]) -> i64 {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_one(app.running.services.db.pool()).await.expect(sql)
}

async fn practice(app: &TestApp, tax_id: &str, name: &str) -> i64 {
    exec(
        app,
        &format!(
            "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
             VALUES ($1, '{tax_id}', '{name}', '1 Main St', '', 'Seattle', 'WA', '98101', '', 0) RETURNING id"
        ),
        &[app.plan.id().0],
    )
    .await
}

async fn provider(app: &TestApp, practice: i64, id: &str) -> i64 {
    exec(
        app,
        &format!(
            "INSERT INTO providers (plan_id, practice_id, provider_id, npi, kind, first_name, last_name, org_name, \
             address1, city, state, zip, created_at) VALUES ($1, $2, '{id}', '1234567893', 'practitioner', 'Pat', \
             '{id}', '', '1 Main St', 'Seattle', 'WA', '98101', 0) RETURNING id"
        ),
        &[app.plan.id().0, practice],
    )
    .await
}

async fn affiliate(app: &TestApp, user: UserId, practice: i64, user_type: &str, admin: bool) -> AffiliationId {
    AffiliationId(exec(
        app,
        &format!(
            "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
             VALUES ($1, $2, $3, '{user_type}', $4, 1, 0) RETURNING id"
        ),
        &[app.plan.id().0, user.0, practice, i64::from(admin)],
    )
    .await)
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::start(backend).await?;
    let dana = app.user("dana", "Dana", "Reyes", 1001, None).await;
    let lee = app.user("lee", "Lee", "Park", 1002, None).await;
    let kim = app.user("kim", "Kim", "Adams", 1003, None).await;
    let olga = app.user("olga", "Olga", "Novak", 1004, None).await;
    let bob = app.user("bob", "Bob", "Stone", 1005, None).await;
    let practice_a = practice(&app, "825671892", "Lakeside Family Medicine").await;
    let practice_b = practice(&app, "914407731", "Cedar Valley Pediatrics").await;
    let p1 = provider(&app, practice_a, "P1").await;
    let p2 = provider(&app, practice_a, "P2").await;
    let q1 = provider(&app, practice_b, "Q1").await;
    affiliate(&app, dana, practice_a, "office_manager", true).await;
    affiliate(&app, lee, practice_a, "billing_staff", false).await;
    affiliate(&app, kim, practice_a, "eligibility_checker", false).await;
    affiliate(&app, olga, practice_b, "office_manager", true).await;
    affiliate(&app, bob, practice_b, "billing_staff", false).await;
    Some(World { app, dana, lee, kim, olga, bob, practice_a, practice_b, p1, p2, q1 })
}

fn session(w: &World, user: UserId) -> SessionInfo {
    SessionInfo {
        id: gatehouse_domain::SessionId(1),
        plan_id: w.app.plan.id(),
        user_id: user,
        stage: SessionStage::Complete,
        created_at: 0,
        active_affiliation: None,
    }
}

async fn denied_events(w: &World) -> i64 {
    w.app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'practice.access_denied'").await
}

async fn directory_shows_only_the_administrators_practices(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let svc = &w.app.running.services;
    let grant = svc.practice_grant(&w.app.plan, &session(&w, w.dana)).await.expect("grant");
    assert_eq!(grant.practice_ids(), vec![PracticeId(w.practice_a)]);
    let all = svc.practice_directory(&grant, &w.app.plan, &DirectoryRequest::default()).await.expect("list");
    let names: Vec<_> = all.entries.iter().map(|e| e.row.last_name.as_str()).collect();
    assert_eq!(names, ["Adams", "Park", "Reyes"], "sorted by name, no searching needed, nobody from B");
    assert_eq!((all.total, all.first, all.last, all.pages, all.has_next), (Total::Exact(3), 1, 3, 1, false));
    assert_eq!(all.entries[1].user_types, ["Billing Staff"]);

    let find = |q: &str| DirectoryRequest { q: q.into(), ..Default::default() };
    for (q, expect) in [("park", 1), ("LEE@EXAMPLE", 1), ("555-1002", 1), ("stone", 0), ("%", 0)] {
        let r = svc.practice_directory(&grant, &w.app.plan, &find(q)).await.expect("search");
        assert_eq!(r.total, Total::Exact(expect), "search {q:?}");
    }
    let by_type = DirectoryRequest { user_type: "billing_staff".into(), ..Default::default() };
    assert_eq!(svc.practice_directory(&grant, &w.app.plan, &by_type).await.unwrap().total, Total::Exact(1));
    let desc = DirectoryRequest { sort: "username".into(), dir: "desc".into(), ..Default::default() };
    let r = svc.practice_directory(&grant, &w.app.plan, &desc).await.unwrap();
    assert_eq!(r.entries[0].row.username.as_deref(), Some("lee"));
    // Another practice as a filter is refused, like any other foreign id.
    let foreign = DirectoryRequest { practice: Some(w.practice_b), ..Default::default() };
    assert!(matches!(svc.practice_directory(&grant, &w.app.plan, &foreign).await, Err(PracticeError::NotFound)));
    // A user with no administered practice gets no grant.
    assert!(matches!(svc.practice_grant(&w.app.plan, &session(&w, w.lee)).await, Err(PracticeError::NotAdmin)));
    w.app.stop().await;
}
both!(directory_shows_only_the_administrators_practices);

async fn changes_stay_inside_the_administrators_practices(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let svc = &w.app.running.services;
    let plan = &w.app.plan;
    let meta = RequestMeta::default();
    let grant = svc.practice_grant(plan, &session(&w, w.dana)).await.expect("grant");
    let lee_a = AffiliationId(exec(&w.app, "SELECT id FROM affiliations WHERE user_id = $1", &[w.lee.0]).await);
    let bob_b = AffiliationId(exec(&w.app, "SELECT id FROM affiliations WHERE user_id = $1", &[w.bob.0]).await);

    // Another practice's user, affiliation, Tax ID and provider: not found, nothing changed, audited.
    assert!(matches!(svc.member(&grant, plan, w.bob, &meta).await, Err(PracticeError::NotFound)));
    assert!(matches!(
        svc.set_member_user_type(&grant, plan, bob_b, "office_manager", &meta).await,
        Err(PracticeError::NotFound)
    ));
    assert!(matches!(svc.remove_member_affiliation(&grant, plan, bob_b, &meta).await, Err(PracticeError::NotFound)));
    assert!(matches!(
        svc.add_member_affiliation(
            &grant,
            plan,
            w.lee,
            &NewMemberAffiliation {
                practice_id: PracticeId(w.practice_b),
                user_type: "billing_staff".into(),
                scope: Scope::All
            },
            &meta
        )
        .await,
        Err(PracticeError::NotFound)
    ));
    assert!(matches!(
        svc.set_member_providers(
            &grant,
            plan,
            lee_a,
            &Scope::Providers(vec![ProviderRowId(w.p1), ProviderRowId(w.q1)]),
            &meta
        )
        .await,
        Err(PracticeError::NotFound)
    ));
    assert!(matches!(svc.deactivate_member(&grant, plan, w.bob, &meta).await, Err(PracticeError::NotFound)));
    assert_eq!(denied_events(&w).await, 5, "each reach outside is audited (the provider one is a plain refusal)");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM affiliations WHERE user_type = 'office_manager'").await, 2);

    // Inside: user type, provider list, detail.
    svc.set_member_user_type(&grant, plan, lee_a, "clinical_staff", &meta).await.expect("type");
    svc.set_member_providers(&grant, plan, lee_a, &Scope::Providers(vec![ProviderRowId(w.p2)]), &meta)
        .await
        .expect("providers");
    let d = svc.member(&grant, plan, w.lee, &meta).await.expect("detail");
    assert_eq!(d.affiliations.len(), 1);
    assert_eq!(d.affiliations[0].user_type_name, "Clinical Staff");
    assert_eq!(d.affiliations[0].providers.iter().map(|p| p.id.0).collect::<Vec<_>>(), [w.p2]);
    assert!(!d.elsewhere);
    assert!(matches!(
        svc.set_member_providers(&grant, plan, lee_a, &Scope::Providers(vec![]), &meta).await,
        Err(PracticeError::Invalid(_))
    ));
    assert!(matches!(
        svc.set_member_user_type(&grant, plan, lee_a, "no_such_type", &meta).await,
        Err(PracticeError::Invalid(_))
    ));

    // The last administrator cannot remove themselves; handing over first makes it possible.
    let dana_a = AffiliationId(exec(&w.app, "SELECT id FROM affiliations WHERE user_id = $1", &[w.dana.0]).await);
    assert!(matches!(
        svc.remove_member_affiliation(&grant, plan, dana_a, &meta).await,
        Err(PracticeError::LastAdmin { .. })
    ));
    let kim_a = AffiliationId(exec(&w.app, "SELECT id FROM affiliations WHERE user_id = $1", &[w.kim.0]).await);
    svc.hand_over_admin(&grant, plan, kim_a, &meta).await.expect("hand over");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM affiliations WHERE is_admin = 1 AND user_id IN (SELECT id FROM users WHERE username = 'kim')").await, 1);
    // Dana is no longer an administrator: her old grant is re-checked and refused.
    assert!(matches!(
        svc.set_member_user_type(&grant, plan, lee_a, "billing_staff", &meta).await,
        Err(PracticeError::NotAdmin)
    ));

    // Kim revokes Lee from her Tax IDs; a user who also works elsewhere cannot be deactivated.
    let kim_grant = svc.practice_grant(plan, &session(&w, w.kim)).await.expect("kim");
    affiliate(&w.app, w.olga, w.practice_a, "billing_staff", false).await;
    let r = svc.deactivate_member(&kim_grant, plan, w.olga, &meta).await;
    assert!(matches!(r, Err(PracticeError::NotYours(ref m)) if m.contains("Revoke User")), "{r:?}");
    assert_eq!(svc.revoke_member(&kim_grant, plan, w.olga, &meta).await.expect("revoke"), 1);
    assert_eq!(
        w.app
            .count("SELECT COUNT(*) FROM affiliations WHERE user_id IN (SELECT id FROM users WHERE username = 'olga')")
            .await,
        1
    );
    svc.deactivate_member(&kim_grant, plan, w.lee, &meta).await.expect("deactivate");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 1);
    svc.reactivate_member(&kim_grant, plan, w.lee, &meta).await.expect("reactivate");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 0);
    let _ = (w.practice_b, w.olga);
    w.app.stop().await;
}
both!(changes_stay_inside_the_administrators_practices);

async fn two_administrators_deactivating_each_other_keep_one(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let svc = &w.app.running.services;
    let plan = &w.app.plan;
    let meta = RequestMeta::default();
    // Make Lee an administrator too.
    w.app.sql(&format!("UPDATE affiliations SET is_admin = 1 WHERE user_id = {}", w.lee.0)).await;
    let gd = svc.practice_grant(plan, &session(&w, w.dana)).await.expect("dana");
    let gl = svc.practice_grant(plan, &session(&w, w.lee)).await.expect("lee");
    let (a, b) =
        tokio::join!(svc.deactivate_member(&gd, plan, w.lee, &meta), svc.deactivate_member(&gl, plan, w.dana, &meta));
    assert_eq!([&a, &b].into_iter().filter(|r| r.is_ok()).count(), 1, "exactly one wins: {a:?} {b:?}");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 1);
    let admins_active = w
        .app
        .count("SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id WHERE a.is_admin = 1 AND u.status = 'active' AND a.practice_id IN (SELECT id FROM practices WHERE tax_id = '825671892')")
        .await;
    assert_eq!(admins_active, 1);
    w.app.stop().await;
}
both!(two_administrators_deactivating_each_other_keep_one);

fn row(first: &str, last: &str, email: &str, practices: Vec<i64>) -> InviteRow {
    InviteRow {
        first_name: first.into(),
        last_name: last.into(),
        email: email.into(),
        email_confirm: email.into(),
        practices,
        user_type: "billing_staff".into(),
        scope: Scope::All,
    }
}

async fn a_batch_of_invitations_reports_each_row(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let svc = &w.app.running.services;
    let plan = &w.app.plan;
    let meta = RequestMeta::default();
    let grant = svc.practice_grant(plan, &session(&w, w.dana)).await.expect("grant");
    let a = w.practice_a;
    let mut rows: Vec<InviteRow> =
        (0..44).map(|i| row("Staff", &format!("Number{i}"), &format!("staff{i}@clinic.example"), vec![a])).collect();
    let mut mismatch = row("Eve", "Mismatch", "eve@clinic.example", vec![a]);
    mismatch.email_confirm = "eve@clinic.example.org".into();
    rows.push(mismatch);
    rows.push(row("No", "Email", "not-an-email", vec![a]));
    rows.push(row("Lee", "Park", "lee@example.org", vec![a])); // already a user of this Tax ID
    rows.push(row("Bob", "Stone", "bob@example.org", vec![a])); // B's user: offered A, no second account
    rows.push(row("Far", "Away", "far@clinic.example", vec![w.practice_b])); // not Dana's Tax ID
    let mut scoped = row("Pia", "Scoped", "pia@clinic.example", vec![a]);
    scoped.scope = Scope::Providers(vec![ProviderRowId(w.p1), ProviderRowId(w.q1)]);
    rows.push(scoped);
    assert_eq!(rows.len(), 50);
    let users_before = w.app.count("SELECT COUNT(*) FROM users").await;

    let results = svc.invite_batch(&grant, plan, &rows, &meta).await.expect("batch");
    assert_eq!(results.len(), 50);
    assert!(results[..44].iter().all(|r| r.as_ref().is_ok_and(|i| i.new_account && i.link.is_some())));
    assert!(results[44].as_ref().unwrap_err().contains("do not match"), "{:?}", results[44]);
    assert!(results[45].is_err());
    assert_eq!(results[46].as_ref().unwrap_err(), "Already a user of this Tax ID.");
    let bob = results[47].as_ref().expect("bob is offered the Tax ID");
    assert!(bob.offered && !bob.new_account && bob.link.is_none() && bob.user_id == w.bob);
    assert_eq!(w.app.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", w.bob.0)).await, 1);
    assert!(results[48].as_ref().unwrap_err().contains("not found"));
    assert!(results[49].is_ok(), "each practice gets its own providers: {:?}", results[49]);
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users").await, users_before + 45);
    assert_eq!(
        w.app.count("SELECT COUNT(*) FROM affiliation_providers s JOIN affiliations f ON f.id = s.affiliation_id JOIN users u ON u.id = f.user_id WHERE u.email = 'pia@clinic.example'").await,
        1,
        "only A's provider"
    );
    assert_eq!(w.app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'practice.user_invited'").await, 45);
    assert_eq!(w.app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'offer.made'").await, 1);
    let told = w.app.last_message_to("bob@example.org").await.expect("Bob is told");
    assert_eq!(told.kind, "affiliation_offer.v1");

    // Duplicates are pointed out before sending.
    let d = svc.invite_duplicates(&grant, plan, "lee", "PARK", "lee@example.org").await.expect("dups");
    assert_eq!(d.same_name, ["Lee Park (lee)"]);
    assert!(d.email_in_use);
    assert!(!d.invited_by_you, "Lee signed up long ago");
    let d = svc.invite_duplicates(&grant, plan, "Bob", "Stone", "nobody@example.org").await.expect("dups");
    assert!(d.same_name.is_empty() && !d.email_in_use, "Bob is not in A: he was only offered it");
    let d = svc.invite_duplicates(&grant, plan, "Staff", "Number0", "STAFF0@clinic.example").await.expect("dups");
    assert!(d.email_in_use && d.invited_by_you, "Dana's own pending invitation");
    let d = svc.invite_duplicates(&grant, plan, "Olga", "Novak", "").await.expect("dups");
    assert!(d.same_name.is_empty(), "B's users are not shown");
    w.app.stop().await;
}
both!(a_batch_of_invitations_reports_each_row);

async fn pending_invitations_resend_and_cancel(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let svc = &w.app.running.services;
    let plan = &w.app.plan;
    let meta = RequestMeta::default();
    let dana = svc.practice_grant(plan, &session(&w, w.dana)).await.expect("grant");
    let olga = svc.practice_grant(plan, &session(&w, w.olga)).await.expect("grant");
    let rows = [
        row("Ann", "One", "ann@clinic.example", vec![w.practice_a]),
        row("Ben", "Two", "ben@clinic.example", vec![w.practice_a]),
    ];
    let sent = svc.invite_batch(&dana, plan, &rows, &meta).await.expect("batch");
    let ann = sent[0].as_ref().unwrap().clone();
    let ben = sent[1].as_ref().unwrap().clone();
    let pending = svc.pending_invitations(&dana, plan).await.expect("pending");
    assert_eq!(pending.len(), 2);
    assert!(svc.pending_invitations(&olga, plan).await.unwrap().is_empty(), "only one's own invitations");

    // Someone else's invitation: refused, nothing changed.
    assert!(matches!(svc.resend_invitation(&olga, plan, ann.user_id, &meta).await, Err(PracticeError::NotFound)));
    assert!(matches!(svc.cancel_invitation(&olga, plan, ann.user_id, &meta).await, Err(PracticeError::NotFound)));

    // A day later a resend restarts both clocks; the old link (still within its 72 hours) is dead.
    w.app.advance(gatehouse_domain::Duration::days(1));
    let new_link = svc.resend_invitation(&dana, plan, ann.user_id, &meta).await.expect("resend");
    assert_ne!(Some(new_link.clone()), ann.link);
    let c = w.app.browser();
    let old = crate::support::path_of(ann.link.as_deref().unwrap());
    let (_, page) = w.app.page(&c, &old).await;
    assert!(!page.contains("Choose your username"), "old link dead");
    let (_, page) = w.app.page(&c, &crate::support::path_of(&new_link)).await;
    assert!(page.contains("Choose your username"), "new link works");

    // Cancel Ben: his link dies and he leaves the directory.
    svc.cancel_invitation(&dana, plan, ben.user_id, &meta).await.expect("cancel");
    assert_eq!(w.app.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", ben.user_id.0)).await, 0);
    assert!(matches!(svc.cancel_invitation(&dana, plan, ben.user_id, &meta).await, Err(PracticeError::NotFound)));

    // Seven days after the first sending Ann (resent) is still listed; seven after the resend she is not.
    w.app.advance(gatehouse_domain::Duration::days(6));
    assert_eq!(svc.pending_invitations(&dana, plan).await.unwrap().len(), 1);
    w.app.advance(gatehouse_domain::Duration::days(2));
    assert!(svc.pending_invitations(&dana, plan).await.unwrap().is_empty());
    w.app.stop().await;
}
both!(pending_invitations_resend_and_cancel);

fn edit_form(username: &str, first: &str, last: &str, email: &str) -> gatehouse_domain::profile::ProfileForm {
    gatehouse_domain::profile::ProfileForm {
        username: username.into(),
        first_name: first.into(),
        last_name: last.into(),
        email: email.into(),
        email_confirm: email.into(),
        ..Default::default()
    }
}

async fn usernames_follow_the_plan_format_and_reactivation_has_a_window(backend: Backend) {
    use gatehouse_services::practice::members::EditMemberError;
    let Some(w) = world(backend).await else { return };
    let svc = &w.app.running.services;
    let plan = &w.app.plan;
    let meta = RequestMeta::default();
    let grant = svc.practice_grant(plan, &session(&w, w.dana)).await.expect("grant");
    let lee = |name: &str| edit_form(name, "Lee", "Park", "lee@example.org");

    // A plain-name plan: another user's username (in any case) is taken; a free one is saved,
    // audited old → new, and the user is emailed.
    match svc.edit_member(&grant, plan, w.lee, &lee("KIM"), &meta).await {
        Err(EditMemberError::Invalid(e)) => {
            assert_eq!(e.get("username"), Some("This username is taken. Choose another."))
        }
        other => panic!("expected a taken username, got {other:?}"),
    }
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE username = 'lee'").await, 1);
    svc.edit_member(&grant, plan, w.lee, &lee("lee.park"), &meta).await.expect("rename");
    assert_eq!(
        w.app.count("SELECT COUNT(*) FROM users WHERE username = 'lee.park' AND username_lower = 'lee.park'").await,
        1
    );
    let m = w.app.last_message_to("lee@example.org").await.expect("notice");
    assert_eq!(m.kind, "username_changed.v1");
    assert!(m.body_text.contains("from lee to lee.park"), "{}", m.body_text);
    // An empty username field keeps the username.
    svc.edit_member(&grant, plan, w.lee, &lee(""), &meta).await.expect("no rename");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE username = 'lee.park'").await, 1);

    // A plan whose usernames are email addresses refuses a plain name, with the other fields' errors.
    let mut email_plan = plan.clone();
    email_plan.row.username_format = "email".into();
    let mut bad = lee("lee.park2");
    bad.zip = "1".into();
    match svc.edit_member(&grant, &email_plan, w.lee, &bad, &meta).await {
        Err(EditMemberError::Invalid(e)) => {
            assert!(e.get("username").is_some_and(|m| m.contains("email address")));
            assert!(e.get("zip").is_some());
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    svc.edit_member(&grant, &email_plan, w.lee, &lee("lee@clinic.example"), &meta).await.expect("email username");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE username = 'lee@clinic.example'").await, 1);

    // Reactivation by the administrator only within the plan's period after deactivation.
    svc.deactivate_member(&grant, plan, w.kim, &meta).await.expect("deactivate");
    svc.reactivate_member(&grant, plan, w.kim, &meta).await.expect("reactivate at once");
    svc.deactivate_member(&grant, plan, w.kim, &meta).await.expect("deactivate again");
    w.app.advance(gatehouse_domain::Duration::days(91));
    match svc.reactivate_member(&grant, plan, w.kim, &meta).await {
        Err(PracticeError::Invalid(m)) => assert!(m.contains("more than 90 days"), "{m}"),
        other => panic!("expected the window to be over, got {other:?}"),
    }
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE username = 'kim' AND status = 'deactivated'").await, 1);
    let mut longer = plan.clone();
    longer.row.reactivation_days = 365;
    svc.reactivate_member(&grant, &longer, w.kim, &meta).await.expect("a longer period allows it");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM users WHERE username = 'kim' AND status = 'active'").await, 1);
    w.app.stop().await;
}
both!(usernames_follow_the_plan_format_and_reactivation_has_a_window);
