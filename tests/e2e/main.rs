//! End-to-end tests: the catalog as compiled, generated and documented agrees,
//! and the real plugins, loaded by the real loader, answer SQL.

mod accelerate;
mod browser;
mod catalog;
mod cli;
mod cluster;
mod conformance;
mod delta;
mod diff;
mod faults;
mod flight;
mod host_scans;
mod http;
mod mcp;
mod plugins;
mod postgres;
mod s3;
mod serve;
mod site;
mod support;
mod tutorial;
mod verify;
mod views;
