//! Image references by Docker's reference grammar.
