//! Gatehouse's integration tests: one binary, a real server per test, on SQLite and PostgreSQL.

// Test code may stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
mod tenancy;

mod api_flows;
mod audit_and_outbox;
mod browser;
mod browser_registration;
mod browser_self_service;
mod cli;
mod control_panel;
mod demo_data;
mod help_desk;
mod legacy;
mod page_flows;
mod practice_admins;
mod registration;
mod roster;
mod roster_pages;
mod self_service;
mod user_types;
