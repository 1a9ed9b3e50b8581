//! The `notify` appliance: one binary with the GOV.UK Notify API, its workers and its admin
//! tools. See the README's "Code map" for a tour.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod config_report;
pub mod crypto;
pub mod documents;
pub mod domain;
pub mod error;
pub mod http;
pub mod letters;
pub mod loadgen;
pub mod logging;
pub mod metrics;
pub mod pages;
pub mod providers;
mod python;
pub mod receipts;
pub mod scheduler;
pub mod server;
pub mod status;
pub mod systemd;
pub mod templates;
pub mod workers;
