//! catalog-core's integration tests, in one binary to keep link time down.

mod hygiene;
mod rows;
mod ui;
