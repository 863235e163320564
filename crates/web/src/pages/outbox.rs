//! The development outbox: the messages of channels without a provider, served only when asked
//! for (`--dev-outbox`, loopback only). Messages sent to SMTP or the SMS provider never show here.

use super::{Chrome, internal_error, render, when};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::CurrentPlan;
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

pub fn routes(enabled: bool) -> Routes {
    if enabled { Routes::new().route("/dev/outbox", get(outbox)) } else { Routes::new() }
}

struct Msg {
    id: i64,
    channel_label: &'static str,
    recipient: String,
    subject: String,
    kind: String,
    when: String,
    status: String,
    /// The text split into plain runs and links (`true`), so links are clickable yet escaped.
    segments: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    messages: Vec<Msg>,
}

/// Splits text into runs, marking http(s) URLs.
pub fn linkify(text: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let tail = &piece[word.len()..];
        if word.starts_with("https://") || word.starts_with("http://") {
            out.push((word.to_owned(), true));
            out.push((tail.to_owned(), false));
        } else {
            match out.last_mut() {
                Some((s, false)) => s.push_str(piece),
                _ => out.push((piece.to_owned(), false)),
            }
        }
    }
    out
}

async fn outbox(State(st): State<AppState>, plan: CurrentPlan, csrf: axum::Extension<CsrfToken>) -> Response {
    match st.svc.dev_outbox_messages(plan.0.id(), st.dev_outbox, 200).await {
        Ok(rows) => {
            let messages = rows
                .into_iter()
                .map(|m| Msg {
                    id: m.id,
                    channel_label: match m.channel.as_str() {
                        "email" => "Email",
                        "sms" => "Text message",
                        _ => "Voice call",
                    },
                    recipient: m.recipient,
                    subject: m.subject,
                    kind: m.kind,
                    when: when(&plan.0, m.created_at),
                    status: if m.delivered_at.is_some() {
                        "delivered".into()
                    } else {
                        m.last_error.map_or("queued".into(), |e| format!("retrying: {e}"))
                    },
                    segments: linkify(&m.body_text),
                })
                .collect();
            render(StatusCode::OK, &OutboxPage { chrome: Chrome::new(&st, &plan, &csrf, false), messages })
        }
        Err(e) => internal_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::linkify;

    #[test]
    fn links_are_split_out() {
        let s = linkify("Sign up here:\nhttps://x.example/signup?token=abc\nThanks");
        assert_eq!(s[1], ("https://x.example/signup?token=abc".to_owned(), true));
        assert_eq!(
            s.iter().map(|p| p.0.as_str()).collect::<String>(),
            "Sign up here:\nhttps://x.example/signup?token=abc\nThanks"
        );
    }
}
