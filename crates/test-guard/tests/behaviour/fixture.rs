//! Fixture crate tests (coming).
