//! Applications as OpenID Connect clients on the control panel (issue 18): registering
//! confidential and public clients, editing a registration, a new secret, bad input refused with
//! a clear message and nothing changed, another plan's application not found, staff without the
//! applications permission refused, and redirect URIs matched exactly against the attacks of
//! identity servers' recent CVEs.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::ApplicationId;
use gatehouse_domain::scopes::ScopeSet;
use gatehouse_services::RequestMeta;
use gatehouse_services::applications::ApplicationError;
use gatehouse_services::applications::clients::ClientAuthError;
use reqwest::StatusCode;
use serde_json::Value;

const PAGE: &str = "/admin/applications";

/// The text of `<code id="{id}">…</code>` in a page.
fn code(html: &str, id: &str) -> Option<String> {
    let marker = format!("<code id=\"{id}\">");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('<').next().map(str::to_owned)
}

/// Every application's stored columns, to show that a refused request changed nothing.
async fn snapshot(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT CAST(id AS TEXT) || '|' || name || '|' || client_id || '|' || secret_hash || '|' || client_type \
         || '|' || redirect_uris || '|' || post_logout_redirect_uris || '|' || CAST(first_party AS TEXT) || '|' \
         || allowed_scopes || '|' || id_token_alg || '|' || COALESCE(backchannel_logout_uri, '-') || '|' \
         || CAST(updated_at AS TEXT) || '|' || COALESCE(CAST(revoked_at AS TEXT), '-') FROM applications ORDER BY id",
    )
    .fetch_all(app.running.services.db.pool())
    .await
    .unwrap()
}

/// A plan administrator signed in on the control panel.
async fn plan_admin(app: &TestApp) -> reqwest::Client {
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    app.signed_in_browser("padmin", 1001).await
}

async fn id_of(app: &TestApp, client_id: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM applications WHERE client_id = $1")
        .bind(client_id)
        .fetch_one(app.running.services.db.pool())
        .await
        .unwrap()
}

const CLAIMS: &[(&str, &str)] = &[
    ("name", "Claims portal"),
    ("client_type", "confidential"),
    ("redirect_uris", "https://claims.example.org/callback\r\nhttp://127.0.0.1:8000/callback"),
    ("post_logout_redirect_uris", "https://claims.example.org/"),
    ("scope", "profile"),
    ("scope", "gatehouse:affiliations"),
    ("first_party", "on"),
    ("id_token_alg", "RS256"),
    ("backchannel_logout_uri", "https://claims.example.org/backchannel"),
];

async fn confidential_and_public_clients_are_registered(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = plan_admin(&app).await;
    let svc = &app.running.services;
    let plan = app.plan.id();

    let (s, html) = app.submit(&c, PAGE, PAGE, CLAIMS).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("it will not be shown again"));
    let client_id = code(&html, "client-id").unwrap();
    let secret = code(&html, "client-secret").unwrap();
    assert!(client_id.starts_with("gh_") && secret.len() == 43);
    // The list shows the type and the redirect URIs, never the secret.
    let (_, list) = app.page(&c, PAGE).await;
    assert!(list.contains("confidential, first-party"));
    assert!(list.contains("<code class=\"long\">https://claims.example.org/callback</code>"));
    assert!(list.contains("<code class=\"long\">http://127.0.0.1:8000/callback</code>"));
    assert!(!list.contains(&secret));

    let client = svc.oidc_client(plan, &client_id).await.unwrap().unwrap();
    let r = &client.registration;
    assert_eq!(client.name, "Claims portal");
    assert_eq!(r.scopes.canonical(), "openid profile gatehouse:affiliations");
    assert_eq!(r.id_token_alg.as_str(), "RS256");
    assert!(r.first_party);
    assert_eq!(r.backchannel_logout_uri.as_ref().unwrap().as_str(), "https://claims.example.org/backchannel");
    assert!(r.matches_redirect("http://127.0.0.1:8000/callback"));
    assert!(r.matches_post_logout("https://claims.example.org/"));

    // client_secret_basic / client_secret_post: the caller hands over the secret either way.
    assert_eq!(svc.authenticate_oidc_client(plan, &client_id, Some(&secret)).await.unwrap().id, client.id);
    for wrong in [None, Some(""), Some("not-the-secret")] {
        let e = svc.authenticate_oidc_client(plan, &client_id, wrong).await;
        assert!(matches!(e, Err(ClientAuthError::BadCredentials)), "{wrong:?}");
    }
    assert!(svc.authenticate_oidc_client(plan, "gh_unknown", Some(&secret)).await.is_err());
    // The permission check API's HTTP Basic works as before.
    assert!(svc.authenticate_application(plan, &client_id, &secret).is_ok());

    let stored: String = sqlx::query_scalar("SELECT redirect_uris FROM applications WHERE client_id = $1")
        .bind(&client_id)
        .fetch_one(svc.db.pool())
        .await
        .unwrap();
    assert_eq!(stored, r#"["https://claims.example.org/callback","http://127.0.0.1:8000/callback"]"#);
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'application.created'")
        .fetch_one(svc.db.pool())
        .await
        .unwrap();
    let d: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(d["client_type"], "confidential");
    assert_eq!(d["redirect_uris"][0], "https://claims.example.org/callback");

    // A public client: no secret, authenticated by presenting none.
    let fields = [
        ("name", "Claims mobile"),
        ("client_type", "public"),
        ("redirect_uris", "http://[::1]:7000/cb"),
        ("id_token_alg", "ES256"),
    ];
    let (s, html) = app.submit(&c, PAGE, PAGE, &fields).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("A public client has no secret"));
    assert!(code(&html, "client-secret").is_none());
    let public_id = code(&html, "client-id").unwrap();
    let public = svc.authenticate_oidc_client(plan, &public_id, None).await.unwrap();
    assert_eq!(public.registration.scopes.canonical(), "openid");
    assert!(svc.authenticate_oidc_client(plan, &public_id, Some("")).await.is_err());
    assert!(svc.authenticate_application(plan, &public_id, "").is_err(), "no permission check API without a secret");
    let hash: String = sqlx::query_scalar("SELECT secret_hash FROM applications WHERE client_id = $1")
        .bind(&public_id)
        .fetch_one(svc.db.pool())
        .await
        .unwrap();
    assert_eq!(hash, "");
    // A public client has no secret to replace.
    let id = id_of(&app, &public_id).await;
    let path = format!("{PAGE}/{id}/secret");
    let (s, html) = app.submit(&c, &format!("{PAGE}/{id}"), &path, &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("A public client has no secret"));
    assert_eq!(hash, "");
    app.stop().await;
}
both!(confidential_and_public_clients_are_registered);

async fn a_registration_is_edited_and_a_secret_replaced(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = plan_admin(&app).await;
    let svc = &app.running.services;
    let plan = app.plan.id();
    let (_, html) = app.submit(&c, PAGE, PAGE, CLAIMS).await;
    let (client_id, old) = (code(&html, "client-id").unwrap(), code(&html, "client-secret").unwrap());
    let id = id_of(&app, &client_id).await;
    let edit = format!("{PAGE}/{id}");

    let (s, html) = app.page(&c, &edit).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Application: Claims portal"));
    assert!(html.contains("https://claims.example.org/callback\nhttp://127.0.0.1:8000/callback</textarea>"));
    assert!(html.contains("value=\"gatehouse:affiliations\" checked"));
    assert!(html.contains("value=\"RS256\" checked"));

    let fields = [
        ("name", "Claims portal 2"),
        ("client_type", "public"), // ignored: the type is fixed at registration
        ("redirect_uris", "https://claims.example.org/v2/callback"),
        ("post_logout_redirect_uris", ""),
        ("scope", "email"),
        ("id_token_alg", "ES256"),
        ("backchannel_logout_uri", ""),
    ];
    let (s, html) = app.submit(&c, &edit, &edit, &fields).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("Saved Claims portal 2."));
    let client = svc.oidc_client(plan, &client_id).await.unwrap().unwrap();
    let r = &client.registration;
    assert_eq!(client.name, "Claims portal 2");
    assert_eq!(r.client_type.as_str(), "confidential");
    assert!(r.matches_redirect("https://claims.example.org/v2/callback"));
    assert!(!r.matches_redirect("https://claims.example.org/callback"), "the old URI is gone");
    assert!(r.post_logout_redirect_uris.is_empty() && r.backchannel_logout_uri.is_none());
    assert_eq!(r.scopes.canonical(), "openid email");
    assert!(!r.first_party);
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'application.updated'")
        .fetch_one(svc.db.pool())
        .await
        .unwrap();
    let d: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(d["before"]["name"], "Claims portal");
    assert_eq!(d["after"]["redirect_uris"][0], "https://claims.example.org/v2/callback");

    // A new secret: asked first, shown once, the old one refused at once.
    let secret_path = format!("{edit}/secret");
    let (s, html) = app.page(&c, &secret_path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Make a new secret for Claims portal 2?"));
    let (s, html) = app.submit(&c, &secret_path, &secret_path, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("it will not be shown again"));
    let new = code(&html, "client-secret").unwrap();
    assert_ne!(new, old);
    assert!(svc.authenticate_oidc_client(plan, &client_id, Some(&old)).await.is_err());
    assert!(svc.authenticate_oidc_client(plan, &client_id, Some(&new)).await.is_ok());
    assert!(svc.authenticate_application(plan, &client_id, &old).is_err());
    assert!(svc.authenticate_application(plan, &client_id, &new).is_ok());
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'application.secret_replaced'").await, 1);
    let (_, html) = app.page(&c, &edit).await;
    assert!(!html.contains(&new), "shown once");

    // A revoked application has no page.
    let revoke = format!("{edit}/revoke");
    app.submit(&c, &revoke, &revoke, &[]).await;
    assert_eq!(app.page(&c, &edit).await.0, StatusCode::NOT_FOUND);
    assert!(svc.oidc_client(plan, &client_id).await.unwrap().is_none());
    assert!(svc.authenticate_oidc_client(plan, &client_id, Some(&new)).await.is_err());
    app.stop().await;
}
both!(a_registration_is_edited_and_a_secret_replaced);

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = plan_admin(&app).await;
    let (_, html) = app.submit(&c, PAGE, PAGE, CLAIMS).await;
    let id = id_of(&app, &code(&html, "client-id").unwrap()).await;
    let edit = format!("{PAGE}/{id}");
    let before = snapshot(&app).await;
    let audit_before = app.count("SELECT COUNT(*) FROM audit_events").await;

    let long = format!("https://claims.example.org/{}", "a".repeat(2001 - 27));
    assert_eq!(long.chars().count(), 2001);
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("name", "   ", "name-error", "Enter a name of 1 to 80 characters."),
        (
            "redirect_uris",
            "http://example.com/cb",
            "redirect_uris-error",
            "Line 1 (http://example.com/cb): Use https; http is allowed only for 127.0.0.1, [::1] or localhost.",
        ),
        ("redirect_uris", "https://claims.example.org/cb#x", "redirect_uris-error", "a fragment is not allowed"),
        ("redirect_uris", "https://*.example.org/cb", "redirect_uris-error", "Wildcards (*) are not allowed"),
        ("redirect_uris", &long, "redirect_uris-error", "An address can be at most 2000 characters."),
        ("scope", "superuser", "scopes-error", "Unknown scope: superuser."),
        (
            "post_logout_redirect_uris",
            "https://ok.example/\nhttps://user:pw@claims.example.org/",
            "post_logout_redirect_uris-error",
            "Line 2 (https://user:pw@claims.example.org/): Remove the user name",
        ),
        ("backchannel_logout_uri", "/logout", "backchannel_logout_uri-error", "Enter a full address"),
        ("id_token_alg", "HS256", "id_token_alg-error", "Choose ES256 or RS256."),
    ];
    for (field, value, error_id, message) in &cases {
        let fields: Vec<(&str, &str)> =
            CLAIMS.iter().filter(|(k, _)| k != field).copied().chain([(*field, *value)]).collect();
        for (form_page, action) in [(PAGE, PAGE.to_owned()), (edit.as_str(), edit.clone())] {
            let (s, html) = app.submit(&c, form_page, &action, &fields).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{field}={value} at {action}");
            assert!(html.contains(&format!("id=\"{error_id}\"")), "{field} at {action}: {html}");
            let escaped = message.replace('\'', "&#x27;").replace('&', "&amp;");
            assert!(html.contains(message) || html.contains(&escaped), "{message} at {action}: {html}");
            assert!(html.contains("id=\"error-summary\""));
            if *field != "scope" && *field != "id_token_alg" {
                assert!(html.contains("aria-invalid=\"true\""));
            }
        }
    }
    // A client type other than the two is refused on registration.
    let fields: Vec<(&str, &str)> =
        CLAIMS.iter().filter(|(k, _)| *k != "client_type").copied().chain([("client_type", "trusted")]).collect();
    let (s, html) = app.submit(&c, PAGE, PAGE, &fields).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("Choose confidential or public."));
    // A public client without a redirect URI.
    let fields = [("name", "Mobile"), ("client_type", "public"), ("redirect_uris", "")];
    let (s, html) = app.submit(&c, PAGE, PAGE, &fields).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("register at least one redirect URI"));

    assert_eq!(snapshot(&app).await, before, "nothing changed");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events").await, audit_before);
    app.stop().await;
}
both!(bad_input_is_refused_and_changes_nothing);

async fn another_plans_application_is_not_found(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = plan_admin(&app).await;
    let svc = &app.running.services;
    let north = app.plan("north", "Northwind Health").await;
    let theirs =
        svc.create_application(&svc.operator_grant(&north), &north, "North claims", &RequestMeta::cli()).await.unwrap();
    let their_id = theirs.row.id;
    let before = snapshot(&app).await;

    let edit = format!("{PAGE}/{their_id}");
    assert_eq!(app.page(&c, &edit).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.page(&c, &format!("{edit}/secret")).await.0, StatusCode::NOT_FOUND);
    let (s, _) = app.submit(&c, PAGE, &edit, CLAIMS).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.submit(&c, PAGE, &format!("{edit}/secret"), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.page(&c, &format!("{PAGE}/999999")).await.0, StatusCode::NOT_FOUND);

    // The services say the same to a grant of this plan.
    let grant = svc.operator_grant(&app.plan);
    let form = gatehouse_services::applications::ApplicationForm { name: "Mine now", ..Default::default() };
    let e = svc.update_application(&grant, &app.plan, ApplicationId(their_id), &form, &RequestMeta::cli()).await;
    assert!(matches!(e, Err(ApplicationError::NotFound)), "{e:?}");
    let e = svc.regenerate_application_secret(&grant, &app.plan, ApplicationId(their_id), &RequestMeta::cli()).await;
    assert!(matches!(e, Err(ApplicationError::NotFound)), "{e:?}");
    // ...and a grant of this plan cannot act on the other plan at all.
    let e = svc.application(&grant, &north, ApplicationId(their_id)).await;
    assert!(matches!(e, Err(ApplicationError::Denied(_))), "{e:?}");
    // The flows do not find it through this plan.
    assert!(svc.oidc_client(app.plan.id(), &theirs.row.client_id).await.unwrap().is_none());
    let e = svc.authenticate_oidc_client(app.plan.id(), &theirs.row.client_id, Some(&theirs.secret)).await;
    assert!(matches!(e, Err(ClientAuthError::BadCredentials)));
    assert!(svc.authenticate_oidc_client(north.id(), &theirs.row.client_id, Some(&theirs.secret)).await.is_ok());
    assert_eq!(snapshot(&app).await, before);
    app.stop().await;
}
both!(another_plans_application_is_not_found);

async fn staff_without_the_applications_permission_are_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = plan_admin(&app).await;
    let (_, html) = app.submit(&c, PAGE, PAGE, CLAIMS).await;
    let id = id_of(&app, &code(&html, "client-id").unwrap()).await;
    let edit = format!("{PAGE}/{id}");
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let desk = app.signed_in_browser("hdesk", 1002).await;
    let before = snapshot(&app).await;
    for path in [edit.clone(), format!("{edit}/secret")] {
        assert_eq!(app.page(&desk, &path).await.0, StatusCode::FORBIDDEN, "{path}");
        let (s, _) = app.submit(&desk, "/admin", &path, CLAIMS).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = app.submit(&desk, "/admin", PAGE, CLAIMS).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A portal user is no staff at all.
    let user = app.user("bill", "Bill", "Payne", 2001, None).await;
    app.affiliate(user).await;
    let bill = app.signed_in_browser("bill", 2001).await;
    assert_ne!(app.page(&bill, &edit).await.0, StatusCode::OK);
    assert_eq!(snapshot(&app).await, before);
    app.stop().await;
}
both!(staff_without_the_applications_permission_are_refused);

async fn redirect_uris_are_matched_exactly(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = plan_admin(&app).await;
    let svc = &app.running.services;
    let registered = "https://claims.example.org/cb/a%2Fb";
    let fields = [
        ("name", "Exact"),
        ("redirect_uris", registered),
        ("post_logout_redirect_uris", "https://claims.example.org/bye"),
    ];
    let (s, html) = app.submit(&c, PAGE, PAGE, &fields).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let client = svc.oidc_client(app.plan.id(), &code(&html, "client-id").unwrap()).await.unwrap().unwrap();
    let r = &client.registration;
    assert!(r.matches_redirect(registered), "kept as written, the encoded slash too");
    for attack in [
        "https://claims.example.org/cb/a%2Fb/evil",         // an extra path segment
        "https://claims.example.org/cb/a%2Fb/",             // a trailing slash
        "https://claims.example.org/cb/a/b",                // the encoded character decoded
        "https://claims.example.org/cb/a%2fb",              // the escape's case
        "https://claims.example.org/%63b/a%2Fb",            // a character encoded
        "https://Claims.example.org/cb/a%2Fb",              // the host's case
        "https://claims.example.org/CB/a%2Fb",              // the path's case
        "https://evil.example@claims.example.org/cb/a%2Fb", // userinfo
        "https://claims.example.org@evil.example/cb/a%2Fb", // userinfo pointing elsewhere
        "https://claims.example.org:443/cb/a%2Fb",          // the default port written out
        "https://claims.example.org/cb/a%2Fb?next=x",       // a query added
        "https://claims.example.org/cb",                    // a prefix
        "https://claims.example.org/cb/a%2Fb#",             // an empty fragment
    ] {
        assert!(!r.matches_redirect(attack), "{attack}");
    }
    assert!(r.matches_post_logout("https://claims.example.org/bye"));
    assert!(!r.matches_post_logout("https://claims.example.org/bye/"));
    assert!(!r.matches_post_logout(registered), "a redirect URI is not a post-logout URI");
    app.stop().await;
}
both!(redirect_uris_are_matched_exactly);

async fn consents_are_recorded_once_per_scope_set(backend: Backend) {
    use gatehouse_store::consents;
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let user = app.user("bill", "Bill", "Payne", 2001, None).await;
    let created =
        svc.create_application(&svc.operator_grant(&app.plan), &app.plan, "Claims", &RequestMeta::cli()).await.unwrap();
    let plan = app.plan.id();
    let set = |s: &str| ScopeSet::parse(s).unwrap();
    let mut conn = svc.db.acquire().await.unwrap();
    assert!(!consents::covers(&mut conn, plan, user, created.row.id, &set("openid")).await.unwrap());
    consents::record(&mut conn, plan, user, created.row.id, &set("email openid profile"), 100).await.unwrap();
    consents::record(&mut conn, plan, user, created.row.id, &set("profile openid email"), 200).await.unwrap();
    let rows = consents::of_user(&mut conn, plan, user, created.row.id).await.unwrap();
    assert_eq!(rows.len(), 1, "one row per set, in any order");
    assert_eq!((rows[0].scopes.canonical().as_str(), rows[0].granted_at), ("openid profile email", 200));
    assert!(consents::covers(&mut conn, plan, user, created.row.id, &set("openid email")).await.unwrap());
    assert!(!consents::covers(&mut conn, plan, user, created.row.id, &set("openid phone")).await.unwrap());
    let other = app.plan("north", "Northwind Health").await;
    assert!(!consents::covers(&mut conn, other.id(), user, created.row.id, &set("openid")).await.unwrap());
    drop(conn);
    app.stop().await;
}
both!(consents_are_recorded_once_per_scope_set);
