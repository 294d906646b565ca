//! Helpers shared by the behaviour tests in `tests/`.
