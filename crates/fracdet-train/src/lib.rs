//! fracdet-train
