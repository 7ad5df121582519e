//! One received instance through the model: read, scope check, detection, results. The
//! same steps and the same scope rules as `fracdet detect` and `fracdet serve`.

use std::path::Path;

use burn::tensor::Device;
use fracdet_detect::Detector;
use fracdet_io::applicability::{self, Thresholds};
use fracdet_io::write::{ImageFindings, source_header_bytes, source_image};
use fracdet_io::{ReadOptions, read_radiograph_bytes};

use crate::error::{NodeError, Result};
use crate::results::{
    ResultSet, findings_of, model_info, not_assessed_report, overlay, result_set,
};

/// What became of one instance.
#[derive(Debug)]
pub enum Analysis {
    /// Results to deliver, what they say (for the outcome log and the study SR), the
    /// study, and the source's header without pixels (for the study SR).
    Results {
        set: Box<ResultSet>,
        findings: ImageFindings,
        study: String,
        header: Vec<u8>,
    },
    /// Outside the model's scope (not a radiograph fracdet reads, or unlike its training
    /// images): the reason, and the one result to send, an SR saying "not assessed" and
    /// why with no finding in it (`None` where the source cannot carry one: it is then
    /// only logged).
    NotAssessed {
        reason: String,
        report: Option<Vec<u8>>,
    },
}

/// Analyses the Part-10 bytes of instance `uid`; `assess_anyway` scores out-of-scope
/// images regardless, and their results say so.
pub fn analyse(
    uid: &str,
    bytes: &[u8],
    detector: &Detector,
    device: &Device,
    assess_anyway: bool,
) -> Result<Analysis> {
    let name = Path::new(uid);
    let failed = |reason: String| NodeError::Analyse {
        uid: uid.to_string(),
        reason,
    };
    let image = read_radiograph_bytes(bytes, name, &ReadOptions::default())?;
    let mut scope = applicability::check(&image, &Thresholds::default())
        .err()
        .map(|r| r.describe());
    let refused = |reason: String| {
        let report = not_assessed_report(bytes, name, &reason, &model_info(detector.name()))
            .map_err(|e| tracing::warn!(instance = uid, "no not-assessed SR: {e}"))
            .ok();
        Ok(Analysis::NotAssessed { reason, report })
    };
    if let (Some(reason), false) = (&scope, assess_anyway) {
        return refused(reason.clone());
    }
    let detection = detector
        .detect(&image, device)
        .map_err(|e| failed(format!("inference failed: {e}")))?;
    if scope.is_none()
        && let Some(reason) = detection.typicality.and_then(|t| t.not_assessed())
    {
        let reason = reason.describe();
        if !assess_anyway {
            return refused(reason);
        }
        scope = Some(reason);
    }
    let findings = findings_of(&detection, scope);
    let overlay = overlay(name, &image, &detection)?;
    let set = result_set(
        bytes,
        name,
        &image,
        &overlay,
        &findings,
        &model_info(detector.name()),
    )?;
    let study = source_image(bytes, name)?.study_instance_uid;
    Ok(Analysis::Results {
        set: Box::new(set),
        header: source_header_bytes(bytes, name)?,
        findings,
        study,
    })
}
