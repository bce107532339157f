//! Empty: the crate exists for tests/header.rs.
