//! TODO(issue #2)
