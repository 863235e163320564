//! Gatehouse's integration tests: one binary, a real server per test, on SQLite and PostgreSQL.

// Test code may stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
mod tenancy;
mod trust_boundary;

mod access_reviews;
mod api_errors;
mod api_flows;
mod api_messages;
mod api_practice;
mod api_reviews;
mod association;
mod audit_and_outbox;
mod authenticator_app;
mod authz;
mod browser;
mod browser_association;
mod browser_authenticator;
mod browser_messages;
mod browser_oidc;
mod browser_passkeys;
mod browser_practice;
mod browser_registration;
mod browser_reviews;
mod browser_self_service;
mod cli;
mod contract;
mod control_panel;
mod demo_data;
mod generated_client;
mod help_desk;
mod idle_accounts;
mod legacy;
mod legacy_email_proof;
mod message_pages;
mod message_topics;
mod offers;
mod oidc_backchannel;
mod oidc_certification;
mod oidc_client_credentials;
mod oidc_clients;
mod oidc_conformance;
mod oidc_flow;
mod oidc_keys;
mod outbox_security;
mod page_flows;
mod passkey_throttles;
mod passkeys;
mod permission_matrix;
mod practice_admins;
mod practice_pages;
mod practice_users;
mod profile;
mod profile_updates;
mod registration;
mod roster;
mod roster_pages;
mod secure_messages;
mod self_service;
mod signin_cost;
mod throttles;
mod time_zone;
mod user_search;
mod user_types;
