//! End-to-end tests of codelake live in `e2e/`; this library is empty.
