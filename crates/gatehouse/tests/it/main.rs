//! Gatehouse's integration tests: one binary, a real server per test, on SQLite and PostgreSQL.

mod support;

mod api_flows;
mod audit_and_outbox;
mod browser;
mod page_flows;
