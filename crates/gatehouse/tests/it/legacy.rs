//! Legacy accounts: import (idempotent, with a change report; unknown references reported) and the
//! first sign-in that verifies the old hash, proves the email on record, asks for a new password,
//! the terms and two-step.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_services::RequestMeta;
use reqwest::StatusCode;
use serde_json::json;

const TIN: &str = "825671892";

fn file() -> String {
    let lines = [
        // Salted SHA-256 of "NaCl" + "copper kettle meadow": the old password meets the new policy.
        json!({"username": "Old.Timer", "first_name": "Olga", "last_name": "Timer", "email": "olga@old.example.org",
               "hash_format": "sha256", "hash": "ceb70765ed214a7eb05c1a96ca0982de9174cfd1673b2f9be1ffce522978c8b0",
               "salt": "NaCl", "salt_position": "prefix",
               "affiliations": [{"tax_id": TIN, "user_type": "billing_staff", "providers": "all"}]}),
        // RFC 6070's PBKDF2-SHA1 vector: the old password "password" is too weak to keep.
        json!({"username": "weakling", "first_name": "Walt", "last_name": "Kling", "email": "walt@old.example.org",
               "hash_format": "pbkdf2-sha1", "hash": "4b007901b765489abead49d926f721d065a429c1", "salt": "salt",
               "iterations": 4096, "affiliations": [{"tax_id": TIN, "user_type": "clinical_staff"}]}),
        json!({"username": "stray", "first_name": "Sam", "last_name": "Tray", "email": "sam@old.example.org",
               "hash_format": "sha1", "hash": "a9993e364706816aba3e25717850c26c9cd0d89d", "salt": "a", "salt_position": "prefix",
               "affiliations": [{"tax_id": "111111111", "user_type": "billing_staff"}]}),
        json!({"username": "badhash", "first_name": "Bea", "last_name": "Hash", "email": "bea@old.example.org",
               "hash_format": "md5", "hash": "00"}),
    ];
    lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
}

async fn legacy_import_and_first_sign_in(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let grant = svc.operator_grant(&app.plan);
    let r = svc.import_legacy_users(&grant, &app.plan, &file(), &RequestMeta::cli()).await.expect("import");
    assert_eq!((r.accounts, r.imported, r.unchanged, r.rejected_count, r.affiliations_added), (4, 2, 0, 2, 2));
    let reasons: Vec<String> = r.rejected.iter().flat_map(|x| x.reasons.clone()).collect();
    assert!(reasons.iter().any(|x| x.contains("111111111")), "{reasons:?}");
    assert!(reasons.iter().any(|x| x.contains("md5")), "{reasons:?}");
    // Idempotent.
    let again = svc.import_legacy_users(&grant, &app.plan, &file(), &RequestMeta::cli()).await.expect("import");
    assert_eq!((again.imported, again.unchanged, again.affiliations_added), (0, 2, 0));
    let (imported, migrated, per) = svc.legacy_migration_report(&grant, &app.plan).await.expect("report");
    assert_eq!((imported, migrated, per.len()), (2, 0, 1));

    // A wrong old password counts like any failure; the right one asks for a new password.
    let api = app.api();
    let v: serde_json::Value = api
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": "old.timer", "password": "nope nope nope"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(v["error"]["code"], "invalid_credentials");
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key = 'u:old.timer'").await, 1);
    let c = app.browser();
    let (s, _, loc) = app
        .post_form(&c, "/signin", "/signin", &[("username", "old.timer"), ("password", "copper kettle meadow")])
        .await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/first-signin/email")));
    // The email on record is proven first (see `legacy_email_proof`).
    crate::legacy_email_proof::open_proof_link(&app, &c, "olga@old.example.org").await;
    let (s, page) = app.page(&c, "/first-password").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Create a new password") && page.contains("Old.Timer"), "{page}");
    // The old password may be kept: it meets the policy.
    let (s, _, loc) = app
        .post_form(
            &c,
            "/first-password",
            "/first-password",
            &[("password", "copper kettle meadow"), ("confirm_password", "copper kettle meadow")],
        )
        .await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/terms")));
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE username_lower = 'old.timer' AND legacy_hash IS NULL AND password_hash LIKE '$argon2id$%'").await, 1);
    let (s, _, loc) = app
        .post_form(&c, "/terms", "/terms", &[("version", "1"), ("first_name", "Olga"), ("last_name", "Timer")])
        .await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/two-step/setup")));
    let (s, _, _) = app
        .post_form(
            &c,
            "/two-step/setup",
            "/two-step/setup",
            &[("action", "send"), ("country_code", "1"), ("phone", "206-555-0177"), ("method", "text")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let code = app.last_code("+12065550177").await;
    let (s, _, loc) =
        app.post_form(&c, "/two-step/setup", "/two-step/setup", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert_eq!(app.page(&c, "/").await.0, StatusCode::OK);
    let (_, migrated, _) = svc.legacy_migration_report(&grant, &app.plan).await.expect("report");
    assert_eq!(migrated, 1);
    // A weak old password must be replaced.
    let w = app.browser();
    let (_, _, loc) =
        app.post_form(&w, "/signin", "/signin", &[("username", "weakling"), ("password", "password")]).await;
    assert_eq!(loc.as_deref(), Some("/first-signin/email"));
    crate::legacy_email_proof::open_proof_link(&app, &w, "walt@old.example.org").await;
    let (s, page, _) = app
        .post_form(
            &w,
            "/first-password",
            "/first-password",
            &[("password", "password"), ("confirm_password", "password")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"password-error\""));
    app.stop().await;
}
both!(legacy_import_and_first_sign_in);

/// A bearer token of a staff member with `role` (password and code over the API).
async fn staff_token(app: &TestApp, username: &str, role: &str, tail: u16) -> String {
    app.user(username, "Sam", "Lee", tail, Some(role)).await;
    let c = app.api();
    let v: serde_json::Value = c
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": username, "password": crate::support::TEST_PASSWORD}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let token = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(&format!("+1206555{tail:04}")).await;
    let v: serde_json::Value = c
        .post(app.url("/api/v1/two-step/verify"))
        .bearer_auth(&token)
        .json(&json!({"code": code}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    v["session_token"].as_str().expect("token").to_owned()
}

async fn legacy_import_over_the_api(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let admin = staff_token(&app, "planadmin2", "plan_admin", 1201).await;
    let desk = staff_token(&app, "desk2", "help_desk", 1202).await;
    let csv = format!(
        "Username,First Name,Last Name,Email,Tax ID,User Type,Providers,Administrator,Hash Format,Hash,Salt,Iterations\n\
         csvuser,Cara,Svensson,cara@old.example.org,{TIN},billing_staff,all,no,pbkdf2-sha256,\
         458248df38298a8d987f783f53f28ee175c5d826c637cd8d05a138ba77f57c3f,NaCl,1000\n"
    );
    let post =
        |token: &str| app.api().post(app.url("/api/v1/legacy-users/imports")).bearer_auth(token).body(csv.clone());
    let r = post(&desk).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "help desk cannot import");
    let r = post(&admin).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!((v["imported"].as_u64(), v["rejected_count"].as_u64()), (Some(1), Some(0)), "{v}");
    let v: serde_json::Value = post(&admin).send().await.expect("post").json().await.expect("json");
    assert_eq!((v["imported"].as_u64(), v["unchanged"].as_u64()), (Some(0), Some(1)));
    // PBKDF2-SHA256 of the old password verifies at sign-in.
    let v: serde_json::Value = app
        .api()
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": "csvuser", "password": "copper kettle meadow"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(v["next"], "email_proof", "{v}");
    let link_token = crate::legacy_email_proof::proof_token(&app, "cara@old.example.org").await;
    let v: serde_json::Value = app
        .api()
        .post(app.url("/api/v1/first-signin/email-proof"))
        .json(&json!({"token": link_token}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(v["next"], "new_password", "{v}");
    let token = v["session_token"].as_str().expect("token").to_owned();
    let first = |password: &str| {
        app.api()
            .post(app.url("/api/v1/first-password"))
            .bearer_auth(&token)
            .json(&json!({"password": password, "confirm_password": password}))
    };
    let r = first("csvuser").send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = first("a brand new passphrase").send().await.expect("post").json().await.expect("json");
    assert_eq!(v["next"], "terms", "{v}");
    let r = first("a brand new passphrase").send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the old session token stopped working");
    let v: serde_json::Value = app
        .api()
        .get(app.url("/api/v1/legacy-users/report"))
        .bearer_auth(&desk)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!((v["imported"].as_i64(), v["migrated"].as_i64()), (Some(1), Some(1)), "{v}");
    assert_eq!(v["practices"][0]["tax_id"], TIN);
    // The control panel's page shows the same figures to the help desk.
    let desk_browser = app.signed_in_browser("desk2", 1202).await;
    let (s, page) = app.page(&desk_browser, "/admin/migration").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Account migration") && page.contains(TIN), "{page}");
    app.stop().await;
}
both!(legacy_import_over_the_api);

async fn legacy_deadline_phones_and_practices_without_an_administrator(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let grant = svc.operator_grant(&app.plan);
    // Salted SHA-256 of "NaCl" + "copper kettle meadow", as in `file`. The demo's Tax ID
    // 914407731 has no administrator yet.
    let lines = [
        json!({"username": "Old.Timer", "first_name": "Olga", "last_name": "Timer", "email": "olga@old.example.org",
               "phone": "(206) 555-0188", "hash_format": "sha256",
               "hash": "ceb70765ed214a7eb05c1a96ca0982de9174cfd1673b2f9be1ffce522978c8b0", "salt": "NaCl",
               "salt_position": "prefix",
               "affiliations": [{"tax_id": "914407731", "user_type": "billing_staff", "providers": "all"}]}),
        json!({"username": "badphone", "first_name": "Bo", "last_name": "Phone", "email": "bo@old.example.org",
               "phone": "12", "hash_format": "sha1", "hash": "a9993e364706816aba3e25717850c26c9cd0d89d", "salt": "a",
               "salt_position": "prefix", "affiliations": [{"tax_id": TIN, "user_type": "billing_staff"}]}),
    ];
    let text = lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n");
    let r = svc.import_legacy_users(&grant, &app.plan, &text, &RequestMeta::cli()).await.expect("import");
    assert_eq!((r.imported, r.rejected_count), (1, 1), "{r:?}");
    assert!(r.rejected[0].reasons.iter().any(|x| x.starts_with("phone:")), "{r:?}");
    assert_eq!(r.practices_without_admin, vec!["914407731".to_owned()]);
    // The old phone is kept as contact information, never as the two-step phone.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE username = 'Old.Timer' AND mobile_phone = '+12065550188' AND two_step_phone IS NULL").await,
        1
    );

    // Before the plan's deadline the old password works; after it, it does not.
    let mut raw = gatehouse_services::settings::raw_from(&app.plan.row);
    raw.insert("legacy_deadline".into(), "2027-01-31".into());
    svc.update_settings(&grant, &app.plan, &raw, &RequestMeta::cli()).await.expect("settings");
    let c = app.browser();
    let (_, _, loc) = app
        .post_form(&c, "/signin", "/signin", &[("username", "old.timer"), ("password", "copper kettle meadow")])
        .await;
    assert_eq!(loc.as_deref(), Some("/first-signin/email"), "the clock (2027-01-15) is before the deadline");
    raw.insert("legacy_deadline".into(), "2027-01-14".into());
    svc.update_settings(&grant, &app.plan, &raw, &RequestMeta::cli()).await.expect("settings");
    let c = app.browser();
    let (_, page, loc) = app
        .post_form(&c, "/signin", "/signin", &[("username", "old.timer"), ("password", "copper kettle meadow")])
        .await;
    assert_eq!(loc, None);
    assert!(page.contains("The username or password is not correct."), "{page}");

    // Forgot password emails such an account a reset link instead of sending a code; the code
    // page is the one everyone gets, and names that way too.
    let (s, _, loc) = app
        .post_form(
            &c,
            "/forgot-password",
            "/forgot-password",
            &[("username", "Old.Timer"), ("email", "olga@old.example.org")],
        )
        .await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/forgot-password/verify")));
    let (_, page) = app.page(&c, "/forgot-password/verify").await;
    assert!(page.contains("we emailed you a link to choose a new password instead"), "{page}");
    let m = app.last_message_to("olga@old.example.org").await.expect("reset link");
    assert_eq!(m.kind, "password_reset_link.v1");
    let link = crate::support::path_of(&crate::support::link_in(&m.body_text).expect("link"));
    let r = c.get(app.url(&link)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (s, _, loc) = app
        .post_form(
            &c,
            "/forgot-password/new",
            "/forgot-password/new",
            &[("password", "a brand new passphrase"), ("confirm_password", "a brand new passphrase")],
        )
        .await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/signin?password_changed=1")));
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE username = 'Old.Timer' AND legacy_hash IS NULL").await, 1);
    let (_, _, loc) = app
        .post_form(&c, "/signin", "/signin", &[("username", "old.timer"), ("password", "a brand new passphrase")])
        .await;
    assert_eq!(loc.as_deref(), Some("/two-step/setup"), "then two-step set-up as for any first sign-in");
    app.stop().await;
}
both!(legacy_deadline_phones_and_practices_without_an_administrator);

/// A JSON line of an imported account of Tax ID `tin` with a salted SHA-256 hash.
fn line(username: &str, email: &str, tin: &str, admin: bool) -> String {
    json!({"username": username, "first_name": "Mo", "last_name": "Jones", "email": email,
           "hash_format": "sha256", "hash": "ceb70765ed214a7eb05c1a96ca0982de9174cfd1673b2f9be1ffce522978c8b0",
           "salt": "NaCl", "salt_position": "prefix",
           "affiliations": [{"tax_id": tin, "user_type": "billing_staff", "providers": "all", "administrator": admin}]})
    .to_string()
}

/// A line joins only the account an earlier import made of it, as the import left it. A
/// practice administrator who renames one of their imported users to a name on a line still to
/// be imported (one rejected the first time, say) must not have that line's practices, and its
/// "administrator", added to their user when the corrected file is run again; nor an imported
/// account whose email someone changed. And an email is never another person's username, across
/// the plan's accounts and the file's lines.
async fn a_later_import_joins_only_the_account_it_made(backend: Backend) {
    const OTHER: &str = "912345678";
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let grant = svc.operator_grant(&app.plan);
    let ann = app.user("ann", "Ann", "Carter", 1001, None).await;
    app.seed_practice(TIN, "Lakeside Family Medicine").await;
    app.seed_practice(OTHER, "Harbor Clinic").await;
    app.seed_affiliation(ann, TIN, "office_manager", true).await;
    app.user("lee@clinic.example.org", "Lee", "Park", 1002, None).await;
    let first = [line("mjones", "mo@old.example.org", TIN, false), line("carol", "carol@old.example.org", TIN, false)];
    let r = svc.import_legacy_users(&grant, &app.plan, &first.join("\n"), &RequestMeta::cli()).await.expect("import");
    assert_eq!((r.imported, r.rejected_count), (2, 0), "{r:?}");

    // Ann, who administers only Lakeside, renames her imported user to the name the next file
    // gives Harbor Clinic's administrator.
    let ann_token = app.api_session("ann", crate::support::TEST_PASSWORD, "+12065551001").await;
    let mo = app.count("SELECT id FROM users WHERE username_lower = 'mjones'").await;
    let body = json!({"username": "drjones"});
    let (s, v) = app.call("PATCH", &format!("/api/v1/practice/users/{mo}"), Some(&ann_token), Some(body)).await;
    assert!(s.is_success(), "{s} {v}");
    // Someone changes carol's email too.
    app.sql("UPDATE users SET email = 'c@else.example.org', email_lower = 'c@else.example.org' WHERE username_lower = 'carol'")
        .await;
    let second = [
        line("drjones", "mo@old.example.org", OTHER, true),
        line("carol", "carol@old.example.org", OTHER, false),
        line("mjones", "mo@old.example.org", TIN, false),
    ];
    let r = svc.import_legacy_users(&grant, &app.plan, &second.join("\n"), &RequestMeta::cli()).await.expect("import");
    assert_eq!((r.rejected_count, r.affiliations_added), (2, 1), "{r:?}");
    for name in ["drjones", "carol"] {
        let why = r.rejected.iter().find(|x| x.username == name).map(|x| x.reasons.join("; ")).unwrap_or_default();
        assert!(why.contains("changed after it was imported"), "{name}: {why}");
    }
    let other = format!(
        "SELECT COUNT(*) FROM affiliations a JOIN practices p ON p.id = a.practice_id WHERE p.tax_id = '{OTHER}'"
    );
    assert_eq!(app.count(&other).await, 0, "nobody was linked to Harbor Clinic");
    // "mjones" is free again, so its line makes a new account rather than joining Mo's.
    assert_eq!(r.imported, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email_lower = 'mo@old.example.org'").await, 2);

    // An email is never another person's username: not an account's, not another line's.
    let third = [
        line("pat@old.example.org", "pat@old.example.org", TIN, false),
        line("quinn", "LEE@clinic.example.org", TIN, false),
        line("rae", "sky@old.example.org", TIN, false),
        line("sky@old.example.org", "sky2@old.example.org", TIN, false),
    ];
    let r = svc.import_legacy_users(&grant, &app.plan, &third.join("\n"), &RequestMeta::cli()).await.expect("import");
    let why = |name: &str| r.rejected.iter().find(|x| x.username == name).map(|x| x.reasons.join("; "));
    assert_eq!(why("pat@old.example.org"), None, "one's own email as one's username is fine");
    assert!(why("quinn").is_some_and(|w| w.contains("email: is another account's username")), "{r:?}");
    assert!(why("rae").is_some_and(|w| w.contains("email: is the username on line 4")), "{r:?}");
    assert!(why("sky@old.example.org").is_some_and(|w| w.contains("equals the email address on line 3")), "{r:?}");
    // Run again, the account whose username is its own email joins itself, unchanged.
    let again = [line("pat@old.example.org", "pat@old.example.org", TIN, false)];
    let r = svc.import_legacy_users(&grant, &app.plan, &again.join("\n"), &RequestMeta::cli()).await.expect("import");
    assert_eq!((r.rejected_count, r.unchanged), (0, 1), "{r:?}");
    app.stop().await;
}
both!(a_later_import_joins_only_the_account_it_made);

/// An imported account whose person has signed in to this portal since is theirs: a later file
/// adds no practice to it (it would be a practice nobody accepted, and maybe its administration);
/// the line says where to add it instead. Its practices already held leave the line unchanged,
/// and an account not yet signed in still gains what the file adds.
async fn a_later_import_adds_no_practice_to_an_account_in_use(backend: Backend) {
    const OTHER: &str = "912345678";
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let grant = svc.operator_grant(&app.plan);
    app.seed_practice(TIN, "Lakeside Family Medicine").await;
    app.seed_practice(OTHER, "Harbor Clinic").await;
    let first = [line("mjones", "mo@old.example.org", TIN, false), line("carol", "carol@old.example.org", TIN, false)];
    let r = svc.import_legacy_users(&grant, &app.plan, &first.join("\n"), &RequestMeta::cli()).await.expect("import");
    assert_eq!((r.imported, r.rejected_count), (2, 0), "{r:?}");
    // Mo signs in to the new portal (their first sign-in replaces the legacy hash).
    app.sql("UPDATE users SET legacy_hash = NULL, password_hash = '$argon2id$v=19$m=8,t=1,p=1$x$y' WHERE username_lower = 'mjones'")
        .await;
    let r = svc.import_legacy_users(&grant, &app.plan, &first.join("\n"), &RequestMeta::cli()).await.expect("import");
    assert_eq!(
        (r.unchanged, r.rejected_count, r.affiliations_added),
        (2, 0, 0),
        "the same file changes nothing: {r:?}"
    );
    let second =
        [line("mjones", "mo@old.example.org", OTHER, true), line("carol", "carol@old.example.org", OTHER, true)];
    let r = svc.import_legacy_users(&grant, &app.plan, &second.join("\n"), &RequestMeta::cli()).await.expect("import");
    assert_eq!((r.rejected_count, r.affiliations_added), (1, 1), "{r:?}");
    let why = r.rejected.iter().find(|x| x.username == "mjones").map(|x| x.reasons.join("; ")).unwrap_or_default();
    assert!(why.contains("signed in to the new portal") && why.contains(OTHER), "{why}");
    let at_other = |name: &str| {
        format!(
            "SELECT COUNT(*) FROM affiliations a JOIN practices p ON p.id = a.practice_id \
             JOIN users u ON u.id = a.user_id WHERE p.tax_id = '{OTHER}' AND u.username_lower = '{name}'"
        )
    };
    assert_eq!(app.count(&at_other("mjones")).await, 0, "Mo gained nothing");
    assert_eq!(app.count(&at_other("carol")).await, 1, "Carol, not signed in yet, did");
    app.stop().await;
}
both!(a_later_import_adds_no_practice_to_an_account_in_use);
