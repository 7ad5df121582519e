//! fracdet as a DICOM node: what a hospital's PACS talks to.
//!
//! The PACS (or a modality) sends radiographs by C-STORE; each instance is written to a
//! [`spool`] before it is acknowledged, analysed by a bounded pool of workers with the
//! same model, scope checks and result objects as `fracdet detect` ([`analyse`],
//! [`results`]: Secondary Capture, Comprehensive SR, GSPS), and its results are sent back by
//! C-STORE to the configured destination with retries and back-off. Nothing acknowledged
//! is lost: a restart resumes the spool. Networking is dicom-rs's `dicom-ul`; the DIMSE
//! command sets it carries are [`dimse`].
//!
//! Once a study is stable (no instance of it for `study_stable`, all received analysed),
//! one more SR covering all its analysed instances goes out: the study finding, the most
//! suspicious image deciding ([`study_report`]); its state is on disk ([`study_store`]).
//!
//! Logs name instances by SOP Instance UID only, never by a patient attribute.

pub mod analyse;
pub mod dimse;
pub mod error;
pub mod node;
pub mod policy;
pub mod results;
pub mod scp;
pub mod scu;
pub mod spool;
pub mod study_clock;
pub mod study_report;
pub mod study_store;
pub mod worker;

pub use error::{NodeError, Result};
pub use node::{NodePlan, RetryPolicy, bind, run};
pub use results::{ResultSet, findings_of, model_info, not_assessed_report, overlay, result_set};
pub use scp::ScpLimits;
pub use scu::Destination;
