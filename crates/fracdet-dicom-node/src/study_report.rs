//! The study SR: once a study is stable ([`crate::study_clock`]), one Comprehensive SR of
//! all its instances analysed so far — a measurement group per image and the study finding
//! (the most suspicious image decides and is referenced, by the same rule as `fracdet
//! detect`'s studies.csv, [`fracdet_io::write::study_decider`]) — into the outbox for
//! delivery. Images the scope checks refused are no members, so they never decide; a
//! study of refused images only gets no study SR, as such an image gets no results.
//! Like `detect`, a study of one image gets none either: its own SR already states the
//! study finding.

use std::path::Path;

use fracdet_io::write::{
    ImageFindings, ModelInfo, ReportImage, ResultOptions, source_image, structured_report_bytes,
};

use crate::error::Result;
use crate::spool::Spool;
use crate::study_store::{Coverage, Member, STUDY_MARK, StudyStore, coverage_of};

/// Series of the study SR: before the per-instance results (999-997), as `detect` does.
pub const STUDY_SR_SERIES: i32 = 996;
/// How viewers list it, and how the tests tell it from the per-instance SRs.
pub const STUDY_SR_DESCRIPTION: &str = "fracdet study findings — not for diagnostic use";

/// What [`report_study`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StudyReport {
    /// A study SR is in the outbox under this SOP Instance UID.
    Committed { sr_uid: String, images: usize },
    /// Nothing to send: fewer than two images analysed, or all already covered.
    Nothing,
}

/// Writes the SR of `study` from its members and puts it in the outbox.
pub fn report_study(
    spool: &Spool,
    store: &StudyStore,
    study: &str,
    model: &ModelInfo,
) -> Result<StudyReport> {
    let members = store.members(study)?;
    let coverage = Coverage {
        study_instance_uid: study.to_string(),
        members: coverage_of(&members),
        committed_ns: now_ns(),
    };
    if members.len() < 2 || store.reported(study)?.members == coverage.members {
        return Ok(StudyReport::Nothing);
    }
    let bytes = study_sr_bytes(store, study, &members, model)?;
    let name = Path::new(study);
    let sr_uid = source_image(&bytes, name)?.sop_instance_uid;
    let mark = serde_json::to_vec(&coverage).unwrap_or_default();
    spool.put_outbox(
        &sr_uid,
        &[("study-sr.dcm", &bytes), (STUDY_MARK, mark.as_slice())],
    )?;
    // After the outbox entry: a crash in between is mended from it on open.
    store.mark_reported(&coverage)?;
    Ok(StudyReport::Committed {
        sr_uid,
        images: members.len(),
    })
}

/// The SR bytes of `members` of `study`.
pub fn study_sr_bytes(
    store: &StudyStore,
    study: &str,
    members: &[Member],
    model: &ModelInfo,
) -> Result<Vec<u8>> {
    let headers = members
        .iter()
        .map(|m| store.header(study, &m.sop_instance_uid))
        .collect::<Result<Vec<_>>>()?;
    let findings: Vec<ImageFindings> = members.iter().map(Member::findings).collect();
    let names: Vec<&Path> = members
        .iter()
        .map(|m| Path::new(m.sop_instance_uid.as_str()))
        .collect();
    let images: Vec<ReportImage> = headers
        .iter()
        .zip(&findings)
        .zip(&names)
        .map(|((source, findings), name)| ReportImage {
            source,
            name,
            findings,
        })
        .collect();
    Ok(structured_report_bytes(
        &images,
        model,
        &ResultOptions {
            series_description: STUDY_SR_DESCRIPTION.to_string(),
            series_number: STUDY_SR_SERIES,
        },
    )?)
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The study timer's thread: every 100 ms, each stable study's SR into the outbox and on
/// to delivery, until `stop`. What is pending at a stop is re-timed at the next start.
pub(crate) fn study_loop(
    spool: &Spool,
    store: &StudyStore,
    model: &ModelInfo,
    quiet: std::time::Duration,
    deliver: &std::sync::mpsc::Sender<String>,
    stop: &std::sync::atomic::AtomicBool,
) {
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        for study in spool.studies.take_due(std::time::Instant::now(), quiet) {
            match report_study(spool, store, &study, model) {
                Ok(StudyReport::Committed { sr_uid, images }) => {
                    tracing::info!(study = %study, instance = %sr_uid, images, "study SR made");
                    let _ = spool.record(&crate::spool::Outcome {
                        sop_instance_uid: &sr_uid,
                        outcome: "study_reported",
                        study_instance_uid: Some(&study),
                        finding: None,
                        probability: None,
                        reason: None,
                    });
                    let _ = deliver.send(sr_uid);
                }
                Ok(StudyReport::Nothing) => {}
                Err(e) => {
                    // Tried again after another quiet period.
                    tracing::error!(study = %study, "cannot make the study SR: {e}");
                    spool.studies.analysed(&study);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    use fracdet_io::write::{FindingLevel, source_header_bytes};

    use super::*;

    const STUDY: &str = "1.2.826.0.1.3680043.2.1125.77";

    fn dx(sop: &str) -> Vec<u8> {
        let t = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
        let u = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        let obj = InMemDicomObject::from_element_iter([
            t(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.1.1"),
            t(tags::SOP_INSTANCE_UID, VR::UI, sop),
            t(tags::STUDY_INSTANCE_UID, VR::UI, STUDY),
            t(
                tags::SERIES_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.2.1125.78",
            ),
            t(tags::MODALITY, VR::CS, "DX"),
            u(tags::SAMPLES_PER_PIXEL, 1),
            t(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            u(tags::ROWS, 4),
            u(tags::COLUMNS, 4),
            u(tags::BITS_ALLOCATED, 16),
            u(tags::BITS_STORED, 12),
            u(tags::HIGH_BIT, 11),
            u(tags::PIXEL_REPRESENTATION, 0),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16((0..16u16).collect()),
            ),
        ]);
        let mut out = Vec::new();
        obj.with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
            .unwrap()
            .write_all(&mut out)
            .unwrap();
        out
    }

    fn member(sop: &str, level: FindingLevel, probability: f32) -> Member {
        Member::new(sop, &ImageFindings::bare(level, probability))
    }

    /// Members on disk → one study SR in the outbox naming the most suspicious image; not
    /// again for the same members; due again after a reopen only when something changed;
    /// and a crash between the outbox entry and `reported.json` is mended, not repeated.
    #[test]
    fn a_study_sr_is_made_once_per_change_and_survives_a_crash() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path()).unwrap();
        let (store, due) = StudyStore::open(tmp.path()).unwrap();
        assert!(due.is_empty());
        let model = crate::model_info("test-model");
        let (a, b) = (
            "1.2.826.0.1.3680043.2.1125.77.1",
            "1.2.826.0.1.3680043.2.1125.77.2",
        );
        let header = |sop| source_header_bytes(&dx(sop), Path::new(sop)).unwrap();
        store
            .record(STUDY, &member(a, FindingLevel::Negative, 0.2), &header(a))
            .unwrap();
        // One image: its own SR says it all.
        assert_eq!(
            report_study(&spool, &store, STUDY, &model).unwrap(),
            StudyReport::Nothing
        );
        store
            .record(STUDY, &member(b, FindingLevel::Possible, 0.4), &header(b))
            .unwrap();
        assert_eq!(StudyStore::open(tmp.path()).unwrap().1, [STUDY]);
        let StudyReport::Committed { sr_uid, images } =
            report_study(&spool, &store, STUDY, &model).unwrap()
        else {
            panic!("no study SR");
        };
        assert_eq!(images, 2);
        assert_eq!(spool.outbox().unwrap(), std::slice::from_ref(&sr_uid));
        let files = spool.outbox_files(&sr_uid).unwrap();
        assert_eq!(files.len(), 1, "the coverage mark is never delivered");
        let sr = std::fs::read(&files[0]).unwrap();
        let text = String::from_utf8_lossy(&sr);
        assert!(text.contains("DECIDING_IMAGE") && text.contains(b));
        assert_eq!(
            report_study(&spool, &store, STUDY, &model).unwrap(),
            StudyReport::Nothing
        );
        assert!(StudyStore::open(tmp.path()).unwrap().1.is_empty());

        // A crash after the outbox entry, before reported.json: mended on open.
        std::fs::remove_file(tmp.path().join(format!("studies/{STUDY}/reported.json"))).unwrap();
        let (store, due) = StudyStore::open(tmp.path()).unwrap();
        assert!(due.is_empty(), "mended from the outbox");
        // A copy analysed again changes the members: due again.
        store
            .record(STUDY, &member(b, FindingLevel::Likely, 0.9), &header(b))
            .unwrap();
        assert_eq!(StudyStore::open(tmp.path()).unwrap().1, [STUDY]);
    }
}
