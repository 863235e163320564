//! Browser journeys in headless Chromium, driven through ChromeDriver with fantoccini.
//!
//! Journey A takes an invited person from the emailed link (clicked on the development outbox
//! page) through sign-up, two-step set-up and terms to the home page; journey B signs out and
//! back in with a two-step code. Every page is checked for basic accessibility (built-in checks,
//! plus axe-core when `AXE_CORE_JS` or `node_modules/axe-core/axe.min.js` exists) and saved as a
//! full-page screenshot in `target/screenshots/<journey>-<backend>-<step>.png`.
//!
//! Without Chromium and ChromeDriver the tests skip, except in CI (`CI=true`) where they fail.

use crate::support::{Backend, TestApp, code_in};
use fantoccini::{Client, ClientBuilder, Locator};
use gatehouse_domain::Duration;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration as StdDuration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for a page or an element before failing.
const PAGE_WAIT: StdDuration = StdDuration::from_secs(15);

const EMAIL: &str = "maria.lopez@clinic.example.org";
const PHONE_E164: &str = "+12065550143";
const USERNAME: &str = "mlopez";
const PASSWORD: &str = "Riverbend lantern orchard 42";

/// The workspace root (two levels above this crate).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// ChromeDriver and the Chromium it drives. Dropping it (also when a test panics) ends the
/// session, so ChromeDriver quits Chromium, then kills ChromeDriver's process group.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: DriverGuard,
    /// The WebDriver session still open, if any.
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            self.driver.delete_session(&id);
        }
    }
}

impl Browser {
    /// Starts ChromeDriver on a free port and opens a headless Chromium session, or returns
    /// `None` (after saying so) when they are not installed outside CI.
    pub(crate) async fn launch() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "browser tests need {CHROMIUM} and {CHROMEDRIVER} in CI: apt-get install chromium chromium-driver"
            );
            eprintln!("SKIPPED (Chromium/ChromeDriver not installed: apt-get install chromium chromium-driver)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port();
        // Its own process group, which the Chromium it starts joins: killed together at the end.
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = DriverGuard { child, port };
        let profile = tempfile::tempdir().expect("profile dir");
        let driver_url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(format!("{driver_url}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(started.elapsed() < StdDuration::from_secs(15), "chromedriver did not answer on port {port}");
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        // ChromeDriver speaks plain HTTP on localhost: no TLS connector (and no rustls provider).
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("start a Chromium session");
        let session = client.session_id().await.expect("session id");
        Some(Self { client, driver, session, _profile: profile })
    }

    /// Adds a W3C WebAuthn virtual authenticator to the session (WebDriver extension): CTAP2,
    /// built in, holding discoverable keys and verifying its user (as a fingerprint would).
    /// Returns its id.
    pub(crate) async fn add_virtual_authenticator(&self) -> String {
        let id = self.session.as_deref().expect("an open session");
        let url = format!("http://127.0.0.1:{}/session/{id}/webauthn/authenticator", self.driver.port);
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let r = reqwest::Client::new().post(url).json(&body).send().await.expect("add a virtual authenticator");
        let status = r.status();
        let v: Value = r.json().await.expect("its answer");
        assert!(status.is_success(), "virtual authenticator refused: {v}");
        v["value"].as_str().expect("the authenticator's id").to_owned()
    }

    /// The keys a virtual authenticator holds (WebDriver "Get Credentials").
    pub(crate) async fn virtual_credentials(&self, authenticator: &str) -> Vec<Value> {
        let id = self.session.as_deref().expect("an open session");
        let url = format!(
            "http://127.0.0.1:{}/session/{id}/webauthn/authenticator/{authenticator}/credentials",
            self.driver.port
        );
        let v: Value = reqwest::Client::new().get(url).send().await.expect("credentials").json().await.expect("json");
        v["value"].as_array().cloned().unwrap_or_default()
    }

    /// Ends the Chromium session; ChromeDriver goes when `self` drops.
    pub(crate) async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session = None;
        }
    }
}

/// A running ChromeDriver, killed with its process group (Chromium included) when dropped.
struct DriverGuard {
    child: Child,
    port: u16,
}

impl DriverGuard {
    /// Asks ChromeDriver to end a session (and so quit its Chromium), without async: this runs
    /// from `Drop`, possibly while a test unwinds.
    fn delete_session(&self, id: &str) {
        use std::io::{Read, Write};
        let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = conn.set_read_timeout(Some(StdDuration::from_secs(10)));
        let request = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if conn.write_all(request.as_bytes()).is_ok() {
            let _ = conn.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        // ChromeDriver's own process group (its id is ChromeDriver's, still unreaped here), with
        // whatever of Chromium is left in it; then reap ChromeDriver.
        let _ =
            Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a journey is, for screenshot names and failure messages.
pub(crate) struct Journey<'a> {
    pub(crate) c: &'a Client,
    pub(crate) name: &'static str,
    pub(crate) backend: &'static str,
    pub(crate) step: u32,
}

impl Journey<'_> {
    /// Checks the page and saves a full-page screenshot named after the step.
    pub(crate) async fn page(&mut self, step: &str) {
        self.step += 1;
        let label = format!("{}-{}-{:02}-{step}", self.name, self.backend, self.step);
        screenshot(self.c, &label).await;
        check_accessibility(self.c, &label).await;
    }
}

pub(crate) fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// Waits for the page whose `<h1>` reads `heading` (exactly, ignoring spacing).
pub(crate) async fn wait_h1(c: &Client, heading: &str) {
    let xpath = format!("//h1[normalize-space()='{heading}']");
    if c.wait().at_most(PAGE_WAIT).for_element(Locator::XPath(&xpath)).await.is_err() {
        let h1 = match c.find(Locator::Css("h1")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => "(no h1)".into(),
        };
        let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        panic!("expected the page headed {heading:?}, but {url} is headed {h1:?}");
    }
}

/// Finds an element by CSS selector, waiting for it.
pub(crate) async fn css(c: &Client, selector: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
}

/// Clicks the button or link whose text is `label`, inside `scope` (an XPath prefix like `//main`),
/// and, when the click loads a page, waits until the old one is gone: a page that comes back
/// with the same heading (a form shown again) is otherwise indistinguishable from the old one,
/// and typing into it would reach elements that are about to vanish.
pub(crate) async fn click(c: &Client, scope: &str, label: &str) {
    let xpath = format!("{scope}//*[self::button or self::a][normalize-space()='{label}']");
    let old_page = c.find(Locator::Css("html")).await.expect("the page");
    c.find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no button or link {label:?} in {scope}: {e}"))
        .click()
        .await
        .expect("click");
    // A click that loads nothing (a disclosure, an in-page link) simply waits out the bound.
    let until = Instant::now() + StdDuration::from_millis(1500);
    while Instant::now() < until {
        if old_page.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(25)).await;
    }
}

/// Clears a field and types into it.
pub(crate) async fn type_into(c: &Client, selector: &str, text: &str) {
    let field = css(c, selector).await;
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

/// On the authenticator app's enrolment form (My profile or the strong-factor step): a wrong code
/// first, explained beside the field and the app not turned on, then `code` (the app's, by the
/// server's clock, which the tests hold still); waits for the notice and checks the ten recovery
/// codes shown once. Screenshots `wrong-code` and `recovery-codes`.
pub(crate) async fn turn_on_the_app(j: &mut Journey<'_>, app: &TestApp, code: &str) {
    let c = j.c;
    type_into(c, "#code", "000000").await;
    click(c, "//main", "Turn on the app").await;
    let error = css(c, "#code-error").await.text().await.expect("error");
    assert!(!error.is_empty(), "the wrong code is explained");
    j.page("wrong-code").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticator_apps WHERE confirmed_at IS NOT NULL").await, 0);
    type_into(c, "#code", code).await;
    click(c, "//main", "Turn on the app").await;
    let notice = css(c, ".notice").await.text().await.expect("notice");
    assert!(notice.contains("Your authenticator app is set up"), "{notice}");
    let codes = c.find_all(Locator::Css("#recovery-codes li")).await.expect("recovery codes");
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    j.page("recovery-codes").await;
}

/// Signs in through the sign-in page with `password`, then the code texted to `phone` (read from
/// the development outbox); the caller waits for the page it expects next.
pub(crate) async fn sign_in_with_code(c: &Client, base: &str, username: &str, password: &str, phone: &str) {
    c.goto(&format!("{base}/signin")).await.expect("open sign-in");
    wait_h1(c, "Sign in").await;
    type_into(c, "#username", username).await;
    type_into(c, "#password", password).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    let code = code_from_outbox(c, base, phone).await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
}

/// On My profile: confirms it is you (`password`, then the code texted to `phone`) and waits for
/// the open profile's fields.
pub(crate) async fn confirm_its_you(c: &Client, base: &str, username: &str, password: &str, phone: &str) {
    wait_h1(c, "My profile").await;
    type_into(c, "#username", username).await;
    type_into(c, "#password", password).await;
    click(c, "//main", "Next").await;
    css(c, "#code").await;
    let code = code_from_outbox(c, base, phone).await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Next").await;
    css(c, "#city").await;
}

/// Opens the development outbox in a new tab, as a person would look at their phone, returns
/// the code in the newest text message to `phone`, and goes back to the original tab.
pub(crate) async fn code_from_outbox(c: &Client, base: &str, phone: &str) -> String {
    let original = c.window().await.expect("window");
    let tab = c.new_window(true).await.expect("new tab");
    c.switch_to_window(tab.handle.clone()).await.expect("switch to tab");
    c.goto(&format!("{base}/dev/outbox")).await.expect("open outbox");
    wait_h1(c, "Development outbox").await;
    let xpath = format!("(//article[starts-with(normalize-space(h2), 'Text message to {phone}')])[1]//pre");
    let body = c
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no text message to {phone} in the outbox: {e}"))
        .text()
        .await
        .expect("message text");
    c.close_window().await.expect("close tab");
    c.switch_to_window(original).await.expect("back to the journey");
    code_in(&body).unwrap_or_else(|| panic!("no code in the text message {body:?}"))
}

/// Saves a full-page screenshot: the window is grown to the page's height for the shot.
async fn screenshot(c: &Client, label: &str) {
    let dir = workspace().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let dims = c
        .execute("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];", vec![])
        .await
        .expect("page height");
    let height = dims[0].as_u64().unwrap_or(1000) + dims[1].as_u64().unwrap_or(0);
    let height = u32::try_from(height.clamp(1000, 8000)).expect("height");
    c.set_window_size(1280, height).await.expect("grow window");
    let png = c.screenshot().await.expect("screenshot");
    c.set_window_size(1280, 1000).await.expect("restore window");
    // The PNG's height (IHDR) must cover the whole page, or the shot was cut.
    let shot_height = png.get(20..24).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).expect("a PNG");
    let page_height = dims[0].as_u64().unwrap_or(0);
    assert!(
        u64::from(shot_height) >= page_height.min(8000),
        "{label}: the screenshot is {shot_height}px tall, the page {page_height}px"
    );
    std::fs::write(dir.join(format!("{label}.png")), png).expect("write screenshot");
}

/// The built-in checks: returns one line per violation. Contrast asks 4.5:1 of all text (WCAG AA
/// for normal text, so stricter than AA for large text) against the first opaque background
/// colour up the ancestors (white if none); background images and `opacity` are not considered.
const A11Y_JS: &str = r#"
const problems = [];
const describe = el => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  else if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).join('.');
  const t = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50);
  return t ? `${s} "${t}"` : s;
};
const visible = el => {
  const cs = getComputedStyle(el);
  return el.getClientRects().length > 0 && cs.visibility !== 'hidden' && cs.display !== 'none';
};
const textOfIds = ids => (ids || '').split(/\s+/).filter(Boolean)
  .map(id => { const e = document.getElementById(id); return e ? e.textContent.trim() : ''; }).join(' ').trim();

if (!(document.documentElement.getAttribute('lang') || '').trim()) problems.push('<html> has no lang attribute');
const mains = document.querySelectorAll('main, [role="main"]');
if (mains.length !== 1) problems.push(`expected exactly one <main> landmark, found ${mains.length}`);
const h1s = document.querySelectorAll('h1');
if (h1s.length !== 1) problems.push(`expected exactly one <h1>, found ${h1s.length}`);

for (const el of document.querySelectorAll('[aria-labelledby], [aria-describedby]')) {
  for (const attr of ['aria-labelledby', 'aria-describedby']) {
    for (const id of (el.getAttribute(attr) || '').split(/\s+/).filter(Boolean)) {
      if (!document.getElementById(id)) problems.push(`${attr} points to missing id "${id}": ${describe(el)}`);
    }
  }
}

for (const el of document.querySelectorAll('input:not([type="hidden"]), select, textarea')) {
  if (!visible(el)) continue;
  const byFor = el.id && [...document.querySelectorAll('label[for]')].some(l => l.htmlFor === el.id && l.textContent.trim());
  const byAria = (el.getAttribute('aria-label') || '').trim() || textOfIds(el.getAttribute('aria-labelledby'));
  if (!byFor && !byAria) problems.push(`form field without a label: ${describe(el)}`);
}

for (const img of document.querySelectorAll('img:not([alt])')) problems.push(`image without alt: ${img.src}`);

for (const el of document.querySelectorAll('[tabindex]')) {
  if (parseInt(el.getAttribute('tabindex'), 10) > 0) problems.push(`positive tabindex: ${describe(el)}`);
}

for (const el of document.querySelectorAll('button, a[href], [role="button"], [role="link"], input[type="submit"], input[type="button"]')) {
  const name = (el.getAttribute('aria-label') || '').trim()
    || textOfIds(el.getAttribute('aria-labelledby'))
    || (el.textContent || '').trim()
    || [...el.querySelectorAll('img[alt]')].map(i => i.alt.trim()).join(' ').trim()
    || (el.getAttribute('title') || '').trim()
    || (el.tagName === 'INPUT' ? (el.value || '').trim() : '');
  if (!name) problems.push(`${el.tagName.toLowerCase()} without an accessible name: ${el.outerHTML.slice(0, 80)}`);
}

const parse = c => {
  const m = /^rgba?\(([^)]*)\)$/.exec(c.trim());
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
};
const over = (top, under) => {
  const a = top.a + under.a * (1 - top.a);
  const mix = k => (top[k] * top.a + under[k] * under.a * (1 - top.a)) / a;
  return { r: mix('r'), g: mix('g'), b: mix('b'), a };
};
const background = el => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const bg = parse(getComputedStyle(e).backgroundColor);
    if (bg && bg.a > 0) { layers.push(bg); if (bg.a >= 1) break; }
  }
  // Nothing opaque up to <html>: the page's default canvas, white.
  let colour = { r: 255, g: 255, b: 255, a: 1 };
  for (let i = layers.length - 1; i >= 0; i--) colour = over(layers[i], colour);
  return colour;
};
const luminance = c => {
  const ch = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
};
const rgb = c => `rgb(${Math.round(c.r)}, ${Math.round(c.g)}, ${Math.round(c.b)})`;
for (const el of document.body.querySelectorAll('*')) {
  if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'OPTION', 'TEMPLATE'].includes(el.tagName)) continue;
  const hasText = [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  if (!hasText || !visible(el)) continue;
  const bg = background(el);
  const fgRaw = parse(getComputedStyle(el).color);
  if (!fgRaw) { problems.push(`cannot read the text colour "${getComputedStyle(el).color}": ${describe(el)}`); continue; }
  const fg = over(fgRaw, bg);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  if (ratio < 4.5) problems.push(`low contrast ${ratio.toFixed(2)}:1 (want 4.5:1), ${rgb(fg)} on ${rgb(bg)}: ${describe(el)}`);
}
return problems;
"#;

/// Runs axe-core's WCAG 2 A and AA rules; returns the serious and critical violations.
const AXE_RUN_JS: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] })
  .then(r => done(r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `axe ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)))
  .catch(e => done([`axe-core failed: ${e}`]));
"#;

/// axe-core's source, if it is installed (read once per test run).
fn axe_source() -> Option<&'static str> {
    static AXE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    static NOTICE: Once = Once::new();
    let src = AXE.get_or_init(|| {
        let path = std::env::var_os("AXE_CORE_JS")
            .map_or_else(|| workspace().join("node_modules/axe-core/axe.min.js"), PathBuf::from);
        std::fs::read_to_string(&path).ok()
    });
    if src.is_none() {
        NOTICE.call_once(|| {
            eprintln!("axe-core was not found (set AXE_CORE_JS or run `npm install axe-core` at the workspace root): only the built-in accessibility checks ran");
        });
    }
    src.as_deref()
}

/// Runs the accessibility checks on the current page and fails the test listing what is wrong.
async fn check_accessibility(c: &Client, label: &str) {
    let mut problems: Vec<String> = strings(c.execute(A11Y_JS, vec![]).await.expect("run the accessibility checks"));
    if let Some(src) = axe_source() {
        c.execute(&format!("{src}\nreturn true;"), vec![]).await.expect("inject axe-core");
        problems.extend(strings(c.execute_async(AXE_RUN_JS, vec![]).await.expect("run axe-core")));
    }
    let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
    assert!(problems.is_empty(), "accessibility problems on {label} ({url}):\n  - {}", problems.join("\n  - "));
}

fn strings(v: Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned)).collect())
        .unwrap_or_default()
}

/// Journey A (invitation to home) then journey B (sign in again), in one browser.
async fn invitation_to_home_and_back(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let c = &browser.client;
    let base = app.base.clone();
    let backend = backend_name(backend);

    // ---- Journey A: invitation to home ----
    let mut j = Journey { c, name: "invitation", backend, step: 0 };
    let link = app.invite("Maria", "Lopez", EMAIL).await;
    app.affiliate_email(EMAIL).await;

    // The person opens the email and clicks the link in it.
    c.goto(&format!("{base}/dev/outbox")).await.expect("open outbox");
    wait_h1(c, "Development outbox").await;
    j.page("outbox").await;
    let xpath =
        format!("(//article[starts-with(normalize-space(h2), 'Email to {EMAIL}')])[1]//a[contains(@href, '/signup?')]");
    let a = c.find(Locator::XPath(&xpath)).await.expect("the sign-up link in the invitation email");
    assert_eq!(
        a.attr("href").await.expect("href").as_deref(),
        Some(link.as_str()),
        "the outbox shows the emailed link"
    );
    a.click().await.expect("click the sign-up link");
    wait_h1(c, "Sign up").await;
    assert_eq!(c.current_url().await.expect("url").as_str(), link);
    let intro = css(c, "main").await.text().await.expect("text");
    assert!(intro.contains("Welcome, Maria Lopez") && intro.contains(EMAIL), "sign-up greets the invitee: {intro}");
    j.page("signup").await;

    // A password that is too short is refused beside the password field.
    type_into(c, "#username", USERNAME).await;
    type_into(c, "#password", "short").await;
    type_into(c, "#confirm_password", "short").await;
    click(c, "//main", "Continue").await;
    wait_h1(c, "Sign up").await;
    let error = css(c, "#password-error").await;
    assert!(error.is_displayed().await.expect("displayed"), "the password error is visible");
    assert!(!error.text().await.expect("text").trim().is_empty(), "the password error says something");
    let password = css(c, "#password").await;
    assert_eq!(password.attr("aria-invalid").await.expect("attr").as_deref(), Some("true"));
    let described = password.attr("aria-describedby").await.expect("attr").unwrap_or_default();
    assert!(
        described.split_whitespace().any(|id| id == "password-error"),
        "the error describes the field: {described:?}"
    );
    let beside =
        c.execute("return document.getElementById('password').nextElementSibling.id;", vec![]).await.expect("js");
    assert_eq!(beside, json!("password-error"), "the error follows the password field");
    assert_eq!(
        css(c, "#username").await.prop("value").await.expect("value").as_deref(),
        Some(USERNAME),
        "the username is kept"
    );
    j.page("signup-short-password").await;

    // Now a good password.
    type_into(c, "#username", USERNAME).await;
    type_into(c, "#password", PASSWORD).await;
    type_into(c, "#confirm_password", PASSWORD).await;
    click(c, "//main", "Continue").await;
    wait_h1(c, "Set up two-step verification").await;
    j.page("two-step-setup").await;

    // Keep +1, type the phone, choose a text message, send.
    assert_eq!(css(c, "#country_code").await.prop("value").await.expect("value").as_deref(), Some("1"));
    type_into(c, "#phone", "206-555-0143").await;
    css(c, "#method-text").await.click().await.expect("choose text");
    click(c, "//main", "Send code").await;
    wait_h1(c, "Set up two-step verification").await;
    let code_field = css(c, "#code").await;
    let notice = css(c, "main [role=status]").await.text().await.expect("notice");
    assert_eq!(notice.trim(), "We sent a code to XXX-XXX-0143.");
    j.page("two-step-code-sent").await;

    let code = code_from_outbox(c, &base, PHONE_E164).await;
    assert_eq!(code, app.last_code(PHONE_E164).await, "the outbox page shows the newest code");
    code_field.send_keys(&code).await.expect("type code");
    click(c, "//main", "Verify").await;
    wait_h1(c, "Terms and conditions").await;
    j.page("terms").await;

    type_into(c, "#first_name", "Maria").await;
    type_into(c, "#last_name", "Lopez").await;
    click(c, "//main", "I accept").await;
    wait_h1(c, "Welcome, Maria Lopez").await;
    j.page("home").await;

    click(c, "//main", "See where you are signed in").await;
    wait_h1(c, "Your sessions").await;
    let sessions = css(c, "main table").await.text().await.expect("text");
    assert!(
        sessions.contains("This session") && sessions.contains("Chrome on Linux"),
        "the sessions page lists this browser: {sessions}"
    );
    j.page("sessions").await;

    // ---- Journey B: sign in again ----
    app.advance(Duration::hours(2));
    let mut j = Journey { c, name: "signin-again", backend, step: 0 };
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;
    assert_eq!(css(c, "main [role=status]").await.text().await.expect("notice").trim(), "You have signed out.");
    j.page("signin").await;

    type_into(c, "#username", USERNAME).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    let label = css(c, "label[for=code]").await.text().await.expect("label");
    assert!(label.contains("XXX-XXX-0143"), "the code page shows the masked number: {label:?}");
    j.page("code").await;

    let code = code_from_outbox(c, &base, PHONE_E164).await;
    assert_eq!(code, app.last_code(PHONE_E164).await, "the outbox page shows the newest code");
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Welcome, Maria Lopez").await;
    j.page("home").await;

    browser.close().await;
    app.stop().await;
}
crate::both!(invitation_to_home_and_back);

/// A page with one of each problem, so the checks are known to catch them.
const BAD_PAGE: &str = r#"<!doctype html><html><head><title>Bad</title></head>
<body style="background:#fff">
<main><h1>One</h1><h1>Two</h1>
<input type="text" id="nolabel">
<input type="hidden" name="fine">
<label for="ok">Fine</label><input type="text" id="ok" aria-describedby="gone">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<a href="/x" tabindex="3">Positive tabindex</a>
<button type="submit"></button>
<p style="color:#999">Pale grey text</p>
<div style="background:#0b4f6c"><span style="color:#1b1b1b">Dark on dark</span></div>
<div style="height:2400px">A tall block, so the full-page screenshot is tested too.</div>
</main><main></main></body></html>"#;

/// The built-in checks find what they should (and axe-core, when present, finds something too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accessibility_checks_catch_violations() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let c = &browser.client;
    c.goto(&format!(
        "data:text/html,{}",
        url::form_urlencoded::byte_serialize(BAD_PAGE.as_bytes()).collect::<String>().replace('+', "%20")
    ))
    .await
    .expect("open the bad page");
    let problems = strings(c.execute(A11Y_JS, vec![]).await.expect("run the checks")).join("\n");
    for expected in [
        "<html> has no lang",
        "exactly one <main> landmark, found 2",
        "exactly one <h1>, found 2",
        "form field without a label: input#nolabel",
        "aria-describedby points to missing id \"gone\"",
        "image without alt",
        "positive tabindex: a",
        "button without an accessible name",
        "low contrast 2.85:1",
        "rgb(27, 27, 27) on rgb(11, 79, 108): span",
    ] {
        assert!(problems.contains(expected), "the checks missed {expected:?}; they found:\n{problems}");
    }
    assert!(!problems.contains("without a label: input#ok"), "a labelled field is fine: {problems}");
    assert!(!problems.contains("fine"), "hidden inputs need no label: {problems}");
    // Taller than the window: the screenshot must still cover it (checked inside).
    screenshot(c, "selftest-none-01-bad-page").await;
    if let Some(src) = axe_source() {
        c.execute(&format!("{src}\nreturn true;"), vec![]).await.expect("inject axe-core");
        let found = strings(c.execute_async(AXE_RUN_JS, vec![]).await.expect("run axe-core"));
        assert!(found.iter().any(|p| p.contains("image-alt")), "axe-core reports the image without alt: {found:?}");
    }
    browser.close().await;
}
