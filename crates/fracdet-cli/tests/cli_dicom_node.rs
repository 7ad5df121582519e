//! `fracdet dicom serve` between two real DICOM programs: dcmtk's `storescu` sends studies
//! to it, it sends its results to an Orthanc started here on loopback, and the results
//! are found in Orthanc by study and read back with dicom-rs; Orthanc itself routes a DX
//! image to fracdet by the Lua rule of docs/integration.md. Then what a hospital relies
//! on: 200 instances at once give 200 result sets; a node killed with SIGKILL mid-stream
//! and started again finishes what it had acknowledged; a corrupt instance is answered
//! with a failure status; the log names no patient. Each multi-image study also gets one
//! study SR once stable, naming its most suspicious image (dciodvfy: no errors), also
//! after a restart.
//!
//! Skips with a NOTICE where Orthanc or storescu is not installed (`.ci/run` installs
//! Debian's `orthanc` and `dcmtk`).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dicom_core::VR;
use dicom_dictionary_std::tags;

const DX: &str = "1.2.840.10008.5.1.4.1.1.1.1";
const SC: &str = "1.2.840.10008.5.1.4.1.1.7";
const SR: &str = "1.2.840.10008.5.1.4.1.1.88.33";
const GSPS: &str = "1.2.840.10008.5.1.4.1.1.11.1";
/// How [`read_back`] files the study SR (an SR whose series is the study findings').
const STUDY_SR: &str = "study SR";
/// The node's quiet period here: short, so the test waits little for study SRs.
const STABLE_SECS: &str = "1.5";

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian installs Orthanc in /usr/sbin, which a user's PATH may lack.
fn orthanc_program() -> &'static str {
    if Path::new("/usr/sbin/Orthanc").exists() {
        "/usr/sbin/Orthanc"
    } else {
        "Orthanc"
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A plain HTTP/1.0 request to Orthanc on loopback; the body of a 200 answer.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    head.starts_with("HTTP/1.0 200")
        .then(|| answer[split + 4..].to_vec())
        .or_else(|| {
            head.starts_with("HTTP/1.1 200")
                .then(|| answer[split + 4..].to_vec())
        })
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// docs/integration.md's routing rule: Orthanc forwards every CR or DX instance to fracdet.
const ROUTE_LUA: &str = r#"
function OnStoredInstance(instanceId, tags, metadata, origin)
  local modality = tags['Modality']
  if modality == 'CR' or modality == 'DX' then
    SendToModality(instanceId, 'fracdet')
  end
end
"#;

/// Orthanc on loopback with its own configuration and storage in `dir`, knowing the node
/// on `node` as modality "fracdet" and routing CR/DX to it as docs/integration.md says.
fn start_orthanc(dir: &Path, dicom: u16, http_port: u16, node: u16) -> Running {
    let storage = dir.join("orthanc-db");
    std::fs::create_dir_all(&storage).unwrap();
    let lua = dir.join("fracdet-route.lua");
    std::fs::write(&lua, ROUTE_LUA).unwrap();
    let config = serde_json::json!({
        "DicomModalities": { "fracdet": ["FRACDET", "127.0.0.1", node] },
        "LuaScripts": [lua],
        "Name": "fracdet-test",
        "StorageDirectory": storage,
        "IndexDirectory": storage,
        "HttpPort": http_port,
        "DicomPort": dicom,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": false,
        "AuthenticationEnabled": false,
        "HttpServerEnabled": true,
        "DicomServerEnabled": true,
        "DicomCheckCalledAet": false,
        "Plugins": [],
        "StorageCompression": false,
        "SaveJobs": false,
    });
    let path = dir.join("orthanc.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let log = std::fs::File::create(dir.join("orthanc.log")).unwrap();
    let child = Command::new(orthanc_program())
        .arg(&path)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start Orthanc");
    let running = Running(child);
    wait_for("Orthanc's REST API", Duration::from_secs(60), || {
        http(http_port, "GET", "/system", "").is_some()
    });
    running
}

/// `fracdet dicom serve` on `port`, sending to the Orthanc at `orthanc`, logging to `log`.
fn start_node(
    spool: &Path,
    port: u16,
    orthanc: u16,
    workers: usize,
    log: &Path,
    extra: &[&str],
) -> Running {
    // Generated images are unlike the model's training images; this test is mostly about
    // the node, not the scope check, so nodes assess anyway unless `--scope-check` is given.
    let scope_check = extra.contains(&"--scope-check");
    let extra: Vec<&str> = extra
        .iter()
        .copied()
        .filter(|a| *a != "--scope-check")
        .collect();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_fracdet"))
        .args([
            "dicom",
            "serve",
            "--ae-title",
            "FRACDET",
            "--port",
            &port.to_string(),
            "--send-to",
            &format!("ORTHANC@127.0.0.1:{orthanc}"),
            "--spool",
            spool.to_str().unwrap(),
            "--workers",
            &workers.to_string(),
            "--retry-s",
            "0.5",
            "--study-stable-secs",
            STABLE_SECS,
        ])
        .args((!scope_check).then_some("--assess-anyway"))
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start fracdet dicom serve");
    let running = Running(child);
    wait_for("the node's port", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    running
}

/// `count` small DX images of study `study` (SOP Instance UIDs `study.1` …), in `dir`.
fn write_study(dir: &Path, study: &str, count: usize) -> Vec<PathBuf> {
    use dicom_core::{DataElement, PrimitiveValue};
    std::fs::create_dir_all(dir).unwrap();
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    (1..=count)
        .map(|i| {
            // A ramp with a bright band that moves per image: each image a little different.
            let pixels: Vec<u16> = (0..64 * 48u32)
                .map(|p| {
                    let x = p % 64;
                    let bone = if (10 + (i as u32 % 20)..30 + (i as u32 % 20)).contains(&x) {
                        1200
                    } else {
                        0
                    };
                    (x * 40 + (p / 64) * 20 + bone) as u16
                })
                .collect();
            let extra = vec![
                text(tags::SOP_INSTANCE_UID, VR::UI, &format!("{study}.{i}")),
                text(tags::STUDY_INSTANCE_UID, VR::UI, study),
                text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{study}.0")),
                text(tags::MODALITY, VR::CS, "DX"),
                text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
                text(tags::PATIENT_ID, VR::LO, "SECRET-ID-123"),
            ];
            let path = dir.join(format!("{i}.dcm"));
            std::fs::write(&path, common::mono16_dicom(64, 48, DX, pixels, extra)).unwrap();
            path
        })
        .collect()
}

/// One DX image of `size` (columns, rows) at `path`, with the text `fields` given.
fn write_dx(
    path: &Path,
    size: (u16, u16),
    pixels: Vec<u16>,
    fields: &[(dicom_core::Tag, dicom_core::VR, &str)],
) {
    use dicom_core::{DataElement, PrimitiveValue};
    let extra = fields
        .iter()
        .map(|(tag, vr, value)| DataElement::new(*tag, *vr, PrimitiveValue::from(*value)))
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        common::mono16_dicom(size.0, size.1, DX, pixels, extra),
    )
    .unwrap();
}

fn storescu(port: u16, files: &[PathBuf]) -> std::process::Output {
    Command::new("storescu")
        .args([
            "-aec",
            "FRACDET",
            "-aet",
            "STORESCU",
            "127.0.0.1",
            &port.to_string(),
        ])
        .args(files)
        .output()
        .expect("run storescu")
}

/// Orthanc's instance IDs in the study.
fn instances_in(http_port: u16, study: &str) -> Vec<String> {
    let query = format!(r#"{{"Level":"Instance","Query":{{"StudyInstanceUID":"{study}"}}}}"#);
    http(http_port, "POST", "/tools/find", &query)
        .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
        .unwrap_or_default()
}

/// The study's instances in Orthanc, read back with dicom-rs, by SOP class (the study SR
/// apart, as [`STUDY_SR`], with its bytes in `study_sr_bytes`).
fn read_back(
    http_port: u16,
    study: &str,
) -> HashMap<String, Vec<dicom_object::DefaultDicomObject>> {
    read_back_with_bytes(http_port, study).0
}

fn read_back_with_bytes(
    http_port: u16,
    study: &str,
) -> (
    HashMap<String, Vec<dicom_object::DefaultDicomObject>>,
    Vec<Vec<u8>>,
) {
    let mut by_class: HashMap<String, Vec<_>> = HashMap::new();
    let mut study_sr_bytes = Vec::new();
    for id in instances_in(http_port, study) {
        let bytes = http(http_port, "GET", &format!("/instances/{id}/file"), "").expect("download");
        let obj = dicom_object::OpenFileOptions::new()
            .read_preamble(dicom_object::file::ReadPreamble::Always)
            .from_reader(bytes.as_slice())
            .expect("dicom-rs reads what Orthanc stored");
        let mut class = text_of_item(&obj, tags::SOP_CLASS_UID);
        if class == SR && text_of_item(&obj, tags::SERIES_DESCRIPTION).starts_with("fracdet study")
        {
            class = STUDY_SR.to_string();
            study_sr_bytes.push(bytes);
        }
        by_class.entry(class).or_default().push(obj);
    }
    (by_class, study_sr_bytes)
}

/// Content items of an SR tree, depth first.
fn sr_items(obj: &dicom_object::InMemDicomObject, out: &mut Vec<dicom_object::InMemDicomObject>) {
    if let Ok(seq) = obj.element(tags::CONTENT_SEQUENCE) {
        for item in seq.items().unwrap_or_default() {
            out.push(item.clone());
            sr_items(item, out);
        }
    }
}

fn item_text(
    item: &dicom_object::InMemDicomObject,
    seq: dicom_core::Tag,
    tag: dicom_core::Tag,
) -> String {
    item.element(seq)
        .ok()
        .and_then(|e| e.items().and_then(|i| i.first().cloned()))
        .and_then(|i| {
            i.element(tag)
                .ok()
                .and_then(|e| e.to_str().ok().map(|s| s.to_string()))
        })
        .unwrap_or_default()
        .trim_end_matches(['\0', ' '])
        .to_string()
}

/// A study SR's study finding (its level's code) and the image that decided it.
fn study_finding(sr: &dicom_object::DefaultDicomObject) -> (String, String) {
    let mut items = Vec::new();
    sr_items(sr, &mut items);
    let concept = |i: &dicom_object::InMemDicomObject| {
        item_text(i, tags::CONCEPT_NAME_CODE_SEQUENCE, tags::CODE_VALUE)
    };
    let level = items
        .iter()
        .find(|i| concept(i) == "STUDY_SUSPICION")
        .map(|i| item_text(i, tags::CONCEPT_CODE_SEQUENCE, tags::CODE_VALUE))
        .expect("a study finding");
    let decider = items
        .iter()
        .find(|i| concept(i) == "DECIDING_IMAGE")
        .map(|i| {
            item_text(
                i,
                tags::REFERENCED_SOP_SEQUENCE,
                tags::REFERENCED_SOP_INSTANCE_UID,
            )
        })
        .expect("a deciding image");
    (level, decider)
}

/// The SOP Instance UIDs a report's evidence references.
fn evidence_of(sr: &dicom_object::DefaultDicomObject) -> Vec<String> {
    let mut uids = Vec::new();
    let evidence = sr
        .element(tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
        .unwrap();
    for study in evidence.items().unwrap() {
        for series in study
            .element(tags::REFERENCED_SERIES_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
        {
            for sop in series
                .element(tags::REFERENCED_SOP_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()
            {
                uids.push(text_of_item(sop, tags::REFERENCED_SOP_INSTANCE_UID));
            }
        }
    }
    uids.sort();
    uids
}

/// An element's text without DICOM's padding; empty when absent. A file object derefs to
/// its data set, so this serves both.
fn text_of_item(item: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> String {
    item.element(tag)
        .map(|e| {
            e.to_str()
                .unwrap_or_default()
                .trim_end_matches(['\0', ' '])
                .to_string()
        })
        .unwrap_or_default()
}

/// The image `detect`'s rule picks from the node's outcome log: the highest level, then
/// the highest probability, among `sources`; with its level's SR code.
fn most_suspicious(spool: &Path, sources: &[String]) -> (String, String) {
    let rank = |f: &str| {
        ["unknown", "negative", "possible", "likely"]
            .iter()
            .position(|w| *w == f)
    };
    let log = std::fs::read_to_string(spool.join("outcomes.jsonl")).unwrap();
    let mut best: Option<(usize, f64, String, String)> = None;
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let uid = v["sop_instance_uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if v["outcome"] != "analysed" || !sources.contains(&uid) {
            continue;
        }
        let finding = v["finding"].as_str().unwrap().to_string();
        let key = (rank(&finding).unwrap(), v["probability"].as_f64().unwrap());
        if best.as_ref().is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
            best = Some((key.0, key.1, uid, finding));
        }
    }
    let (_, _, uid, finding) = best.expect("analysed images in the log");
    (finding.to_uppercase(), uid)
}

/// dciodvfy's errors for `bytes` (written to `path`); `None` where it is not installed.
fn dciodvfy_errors(path: &Path, bytes: &[u8]) -> Option<Vec<String>> {
    std::fs::write(path, bytes).unwrap();
    let o = Command::new("dciodvfy").arg(path).output().ok()?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(report.contains("ComprehensiveSR"), "{report}");
    Some(
        report
            .lines()
            .filter(|l| l.starts_with("Error"))
            .map(String::from)
            .collect(),
    )
}

fn node_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_pacs_round_trip_and_nothing_received_is_lost() {
    if !installed(orthanc_program()) || !installed("storescu") {
        eprintln!(
            "NOTICE: Orthanc or dcmtk's storescu not installed (Debian orthanc, dcmtk); \
             the DICOM node round trip is skipped"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (orthanc_dicom, orthanc_http, node_port) = (free_port(), free_port(), free_port());
    let _orthanc = start_orthanc(tmp.path(), orthanc_dicom, orthanc_http, node_port);
    let spool = tmp.path().join("spool");
    let log = tmp.path().join("node.log");
    // FRACDET_NODE_WORKERS: the worker count of the whole run (docs/integration.md measures 1
    // and 2 with it); 2 by default.
    let workers: usize = std::env::var("FRACDET_NODE_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let mut node = start_node(&spool, node_port, orthanc_dicom, workers, &log, &[]);

    // 1. A three-image study: SC, SR and GSPS for each image, all in the same study.
    let study = "1.2.826.0.1.3680043.2.1125.7001";
    let files = write_study(&tmp.path().join("study"), study, 3);
    let o = storescu(node_port, &files);
    assert!(o.status.success(), "{}", common::show(&o));
    wait_for("nine results in Orthanc", Duration::from_secs(180), || {
        instances_in(orthanc_http, study).len() >= 9
    });
    let per_instance = Instant::now();
    wait_for("the study SR in Orthanc", Duration::from_secs(60), || {
        instances_in(orthanc_http, study).len() >= 10
    });
    eprintln!(
        "study SR in Orthanc {:.1} s after the per-instance results (stable period {STABLE_SECS} s)",
        per_instance.elapsed().as_secs_f64()
    );
    let (results, study_srs) = read_back_with_bytes(orthanc_http, study);
    for class in [SC, SR, GSPS] {
        let objs = results.get(class).map_or(0, Vec::len);
        assert_eq!(objs, 3, "{class}: {objs} in Orthanc\n{}", node_log(&log));
    }
    assert_eq!(
        results.len(),
        4,
        "only results in the study: {:?}",
        results.keys()
    );
    let sources: Vec<String> = (1..=3).map(|i| format!("{study}.{i}")).collect();
    for obj in results.values().flatten() {
        assert_eq!(text_of_item(obj, tags::STUDY_INSTANCE_UID), study);
        assert_eq!(text_of_item(obj, tags::PATIENT_ID), "SECRET-ID-123");
    }
    // Each GSPS and each SR references one of the images sent, every image once.
    let mut referenced: Vec<String> = results[GSPS]
        .iter()
        .map(|pr| {
            let series = pr.element(tags::REFERENCED_SERIES_SEQUENCE).unwrap();
            let series = &series.items().unwrap()[0];
            let images = series.element(tags::REFERENCED_IMAGE_SEQUENCE).unwrap();
            let image = &images.items().unwrap()[0];
            image
                .element(tags::REFERENCED_SOP_INSTANCE_UID)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches('\0')
                .to_string()
        })
        .collect();
    referenced.sort();
    assert_eq!(referenced, sources);
    for sr in &results[SR] {
        let evidence = sr
            .element(tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
            .unwrap();
        let bytes = format!("{:?}", evidence.items().unwrap()[0]);
        assert!(
            sources.iter().any(|s| bytes.contains(s.as_str())),
            "{bytes}"
        );
    }

    // The study SR: exactly one, referencing all three images, its study finding that of
    // the most suspicious of them (detect's rule), and a valid Comprehensive SR.
    assert_eq!(results[STUDY_SR].len(), 1, "{}", node_log(&log));
    let study_sr = &results[STUDY_SR][0];
    assert_eq!(evidence_of(study_sr), sources);
    assert_eq!(study_finding(study_sr), most_suspicious(&spool, &sources));
    if let Some(errors) = dciodvfy_errors(&tmp.path().join("study-sr.dcm"), &study_srs[0]) {
        assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
    } else {
        eprintln!(
            "NOTICE: dciodvfy not installed (Debian dicom3tools); study SR IOD check skipped"
        );
    }

    // 1b. The PACS routes: an image stored into Orthanc reaches fracdet by the Lua rule of
    // docs/integration.md, and its three results come back into the same study.
    let routed = "1.2.826.0.1.3680043.2.1125.7005";
    let files = write_study(&tmp.path().join("routed"), routed, 1);
    let o = Command::new("storescu")
        .args(["-aec", "ORTHANC", "127.0.0.1", &orthanc_dicom.to_string()])
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::show(&o));
    wait_for(
        "the routed image and its 3 results",
        Duration::from_secs(120),
        || instances_in(orthanc_http, routed).len() >= 4,
    );
    let results = read_back(orthanc_http, routed);
    for class in [DX, SC, SR, GSPS] {
        assert_eq!(results.get(class).map_or(0, Vec::len), 1, "{class}");
    }

    // 1c. An image the scope check refuses (a blank DX): one result, an SR in its study
    // that says "not assessed" and why, with no finding, probability or box; no overlay
    // and no presentation state (a valid Comprehensive SR).
    let refused_study = "1.2.826.0.1.3680043.2.1125.7006";
    let blank = tmp.path().join("blank/blank.dcm");
    let (sop, series) = (format!("{refused_study}.1"), format!("{refused_study}.0"));
    write_dx(
        &blank,
        (64, 48),
        vec![700; 64 * 48],
        &[
            (tags::SOP_INSTANCE_UID, VR::UI, &sop),
            (tags::STUDY_INSTANCE_UID, VR::UI, refused_study),
            (tags::SERIES_INSTANCE_UID, VR::UI, &series),
            (tags::MODALITY, VR::CS, "DX"),
            (tags::PATIENT_ID, VR::LO, "SECRET-ID-123"),
        ],
    );
    let checking_port = free_port();
    let checking = start_node(
        &tmp.path().join("checking-spool"),
        checking_port,
        orthanc_dicom,
        1,
        &log,
        &["--scope-check"],
    );
    let o = storescu(checking_port, std::slice::from_ref(&blank));
    assert!(o.status.success(), "{}", common::show(&o));
    wait_for(
        "the not-assessed SR in Orthanc",
        Duration::from_secs(120),
        || !instances_in(orthanc_http, refused_study).is_empty(),
    );
    let (refused, _) = read_back_with_bytes(orthanc_http, refused_study);
    assert_eq!(
        refused.keys().collect::<Vec<_>>(),
        [&SR.to_string()],
        "only an SR for a refused image\n{}",
        node_log(&log)
    );
    let sr = &refused[SR][0];
    let mut items = Vec::new();
    sr_items(sr, &mut items);
    let named = |name: &str| {
        items
            .iter()
            .find(|i| item_text(i, tags::CONCEPT_NAME_CODE_SEQUENCE, tags::CODE_MEANING) == name)
    };
    let level = named("Fracture suspicion").expect("a suspicion item");
    assert_eq!(
        item_text(level, tags::CONCEPT_CODE_SEQUENCE, tags::CODE_VALUE),
        "NOT_ASSESSED"
    );
    let reason = text_of_item(
        named("Reason not assessed").expect("a reason"),
        tags::TEXT_VALUE,
    );
    assert!(reason.contains("blank image"), "{reason}");
    for absent in ["Finding", "Fracture probability", "Region score"] {
        assert!(named(absent).is_none(), "{absent} in a not-assessed SR");
    }
    let bytes = http(
        orthanc_http,
        "GET",
        &format!(
            "/instances/{}/file",
            instances_in(orthanc_http, refused_study)[0]
        ),
        "",
    )
    .unwrap();
    if let Some(errors) = dciodvfy_errors(&tmp.path().join("refused-sr.dcm"), &bytes) {
        assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
    }
    let outcomes =
        std::fs::read_to_string(tmp.path().join("checking-spool/outcomes.jsonl")).unwrap();
    assert!(
        outcomes
            .lines()
            .any(|l| l.contains(&format!("{refused_study}.1")) && l.contains("not_assessed")),
        "{outcomes}"
    );
    drop(checking);

    // 2. An instance fracdet cannot use (no Study Instance UID: a result could not join
    // its study) is answered with a failure status and never spooled. Byte-level
    // corruption, which storescu will not send, is covered by fracdet-dicom-node's tests.
    let bad = tmp.path().join("bad/nostudy.dcm");
    write_dx(
        &bad,
        (8, 8),
        vec![0; 64],
        &[
            (
                tags::SOP_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.2.1125.7009.1",
            ),
            (tags::MODALITY, VR::CS, "DX"),
        ],
    );
    let o = Command::new("storescu")
        .args(["-aec", "FRACDET", "-v", "127.0.0.1", &node_port.to_string()])
        .arg(&bad)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        said.contains("Error: CannotUnderstand"),
        "the instance was not refused: {said}"
    );
    assert!(
        !spool
            .join("inbox/1.2.826.0.1.3680043.2.1125.7009.1.dcm")
            .exists()
    );

    // 3. 200 instances at once: 200 result sets, none lost.
    let burst = "1.2.826.0.1.3680043.2.1125.7002";
    let files = write_study(&tmp.path().join("burst"), burst, 200);
    let started = Instant::now();
    let o = storescu(node_port, &files);
    assert!(o.status.success(), "{}", common::show(&o));
    let received = started.elapsed();
    wait_for(
        "600 results and the study SR in Orthanc",
        Duration::from_secs(400),
        || instances_in(orthanc_http, burst).len() >= 601,
    );
    eprintln!(
        "200 instances: received in {:.1} s, all 600 results and the study SR in Orthanc after {:.1} s ({workers} worker(s))",
        received.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let results = read_back(orthanc_http, burst);
    for class in [SC, SR, GSPS] {
        assert_eq!(results.get(class).map_or(0, Vec::len), 200, "{class}");
    }
    assert_eq!(results[STUDY_SR].len(), 1);
    // The refused image's study got its SR and nothing more: no study SR over no finding.
    assert_eq!(instances_in(orthanc_http, refused_study).len(), 1);

    // 4. SIGKILL mid-stream, then a restart: the spooled remainder is processed.
    let killed = "1.2.826.0.1.3680043.2.1125.7003";
    let files = write_study(&tmp.path().join("killed"), killed, 40);
    let o = storescu(node_port, &files);
    assert!(o.status.success(), "{}", common::show(&o));
    // Every instance is acknowledged, so every one is in the spool: kill now, mid-analysis.
    node.0.kill().unwrap(); // SIGKILL on Unix
    node.0.wait().unwrap();
    let left = std::fs::read_dir(spool.join("inbox")).unwrap().count()
        + std::fs::read_dir(spool.join("outbox")).unwrap().count();
    assert!(
        left > 0,
        "nothing left in the spool: the kill came too late to test anything"
    );
    let done_before = instances_in(orthanc_http, killed).len();
    assert!(done_before < 120, "all results were out before the kill");
    let node = start_node(&spool, node_port, orthanc_dicom, workers, &log, &[]);
    wait_for(
        "120 results and the study SR in Orthanc after the restart",
        Duration::from_secs(300),
        || instances_in(orthanc_http, killed).len() >= 121,
    );
    let results = read_back(orthanc_http, killed);
    for class in [SC, SR, GSPS] {
        assert_eq!(results.get(class).map_or(0, Vec::len), 40, "{class}");
    }
    // The study SR was due across the kill: made once, covering all 40.
    assert_eq!(results[STUDY_SR].len(), 1);
    assert_eq!(evidence_of(&results[STUDY_SR][0]).len(), 40);
    eprintln!(
        "SIGKILL: {left} spool entries left at the kill, {done_before} results out; all 120 after the restart"
    );

    drop(node);

    // 5. A destination that never answers: retried with back-off, then kept in failed/
    // with the reason, and reported.
    let dead_spool = tmp.path().join("dead-spool");
    let dead_port = free_port();
    let _dead = start_node(
        &dead_spool,
        dead_port,
        free_port(),
        1,
        &log,
        &["--send-attempts", "2", "--send-timeout-s", "2"],
    );
    let undeliverable = "1.2.826.0.1.3680043.2.1125.7004";
    let files = write_study(&tmp.path().join("undeliverable"), undeliverable, 1);
    let o = storescu(dead_port, &files);
    assert!(o.status.success(), "{}", common::show(&o));
    let reason = dead_spool.join(format!("failed/{undeliverable}.1/reason.txt"));
    wait_for(
        "the undeliverable result in failed/",
        Duration::from_secs(120),
        || reason.exists(),
    );
    assert!(
        dead_spool
            .join(format!("failed/{undeliverable}.1/results/sr.dcm"))
            .exists()
    );
    let outcomes = std::fs::read_to_string(dead_spool.join("outcomes.jsonl")).unwrap();
    assert!(outcomes.contains("delivery_failed"), "{outcomes}");
    let analysed: serde_json::Value =
        serde_json::from_str(outcomes.lines().next().unwrap()).unwrap();
    assert_eq!(analysed["outcome"], "analysed");
    assert!(
        analysed["probability"]
            .as_f64()
            .is_some_and(|p| (0.0..=1.0).contains(&p)),
        "{outcomes}"
    );
    assert!(node_log(&log).contains("delivery failed, kept in failed/"));

    // The log names instances by UID, never the patient.
    let text = node_log(&log);
    assert!(
        text.contains(&format!("{killed}.1")),
        "log names instances by UID: {text}"
    );
    assert!(
        !text.contains("Doe") && !text.contains("SECRET"),
        "patient data in the log"
    );
}
