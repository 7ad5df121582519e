//! Backbones (issue #3).
