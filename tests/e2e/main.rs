//! End-to-end tests: the catalog as compiled, as generated, and as documented agree.

mod catalog;
