//! Registry credentials.
