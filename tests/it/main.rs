//! The integration tests: one test binary (each separate binary linked the whole library, and
//! linking was most of CI's time). Each module is one area; `common` holds the in-process test
//! server and the real servers (clamd, sshd, moto's S3) the harness starts on 127.0.0.1.

mod common;

mod accounts;
mod admin_api;
mod api_pages;
mod api_v2;
mod architecture;
mod authorization;
mod check_config;
mod config;
mod data_dir;
mod delivery;
mod documents;
mod e2e_backup;
mod e2e_cli;
mod e2e_crash;
mod e2e_edge;
mod e2e_jobs;
mod edge;
mod facts;
mod inbound_numbers;
mod job_pages;
mod jobs;
mod letters;
mod metrics;
mod platform_admin_pages;
mod print_run;
mod print_sftp;
mod receipts;
mod retention;
mod scheduler;
mod service_pages;
mod settings_pages;
mod sftp;
mod sms_routing;
mod sso;
mod storage_faults;
mod systemd;
mod unsubscribe;
