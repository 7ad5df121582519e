//! fracdet-eval
