//! The audit log's vocabulary and its tamper-evident chain. Each plan's events form a hash chain:
//! every row carries the SHA-256 of the previous row's hash and its own content, so editing or
//! deleting a row breaks every link after it.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash before a plan's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It worked.
    Success,
    /// It was tried and failed (wrong password, wrong code).
    Failure,
    /// It was refused by a rule or a permission.
    Denied,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

/// The fields of one event that the chain protects, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFields<'a> {
    pub plan_id: i64,
    pub seq: i64,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub subject_user_id: Option<i64>,
    pub action: &'a str,
    pub outcome: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub detail: &'a str,
}

/// The hash of an event chained onto `prev` (hex SHA-256). Each field is length-prefixed so no
/// two different events share an encoding.
pub fn chain_hash(prev: &str, f: &ChainFields<'_>) -> String {
    let mut h = Sha256::new();
    let mut put = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    put(prev);
    put(&f.plan_id.to_string());
    put(&f.seq.to_string());
    put(&f.at.to_string());
    put(&f.actor_user_id.map(|v| v.to_string()).unwrap_or_default());
    put(&f.subject_user_id.map(|v| v.to_string()).unwrap_or_default());
    put(f.action);
    put(f.outcome);
    put(f.ip);
    put(f.user_agent);
    put(f.detail);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(detail: &str) -> ChainFields<'_> {
        ChainFields {
            plan_id: 1,
            seq: 1,
            at: 100,
            actor_user_id: Some(7),
            subject_user_id: None,
            action: "signin.password",
            outcome: "success",
            ip: "127.0.0.1",
            user_agent: "test",
            detail,
        }
    }

    #[test]
    fn any_change_changes_the_hash() {
        let a = chain_hash(GENESIS, &fields("{}"));
        assert_eq!(a.len(), 64);
        assert_eq!(a, chain_hash(GENESIS, &fields("{}")));
        assert_ne!(a, chain_hash(GENESIS, &fields("{ }")));
        assert_ne!(a, chain_hash(&a, &fields("{}")));
    }

    #[test]
    fn fields_cannot_be_shifted() {
        let mut x = fields("b");
        x.user_agent = "a";
        let mut y = fields("");
        y.user_agent = "ab";
        assert_ne!(chain_hash(GENESIS, &x), chain_hash(GENESIS, &y));
    }
}
