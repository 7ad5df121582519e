//! The receiving side over real associations on loopback (dicom-ul on both ends): C-ECHO,
//! presentation contexts refused for SOP classes and transfer syntaxes fracdet cannot
//! analyse, a corrupt data set answered "cannot understand" and never spooled, a good one
//! spooled before its success, a wrong called AE title rejected.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use dicom_ul::ClientAssociationOptions;
use dicom_ul::Pdu;
use dicom_ul::association::ClientAssociation;
use dicom_ul::pdu::{PDataValue, PDataValueType, PresentationContextResultReason};
use fracdet_dicom_node::dimse::{self, status};
use fracdet_dicom_node::node::receiver_options;
use fracdet_dicom_node::spool::Spool;
use fracdet_dicom_node::{NodePlan, ScpLimits};

const DX: &str = "1.2.840.10008.5.1.4.1.1.1.1";
const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT: &str = "1.2.840.10008.1.2.1";
const JPEG_2000: &str = "1.2.840.10008.1.2.4.90";

fn plan(spool: PathBuf) -> NodePlan {
    NodePlan {
        ae_title: "FRACDET".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        destination: "PACS@127.0.0.1:1".parse().unwrap(),
        spool,
        workers: 1,
        max_associations: 4,
        max_pdu: 16_384,
        idle_timeout: Duration::from_secs(5),
        limits: ScpLimits {
            max_instance_bytes: 1 << 20,
            max_spooled: 100,
        },
        send_attempts: 1,
        first_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(1),
        send_timeout: Duration::from_secs(5),
        assess_anyway: false,
        study_stable: Duration::from_secs(10),
    }
}

/// A node's receiving side serving one association on a free port.
fn serve_one(
    spool: &std::sync::Arc<Spool>,
    plan: &NodePlan,
) -> (u16, mpsc::Receiver<String>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let (spool, options, limits) = (
        std::sync::Arc::clone(spool),
        receiver_options(plan),
        plan.limits.clone(),
    );
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        fracdet_dicom_node::scp::serve(stream, &options, &spool, &limits, &tx);
    });
    (port, rx, handle)
}

fn command(assoc: &mut ClientAssociation<std::net::TcpStream>, context: u8, bytes: Vec<u8>) {
    assoc
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: context,
                value_type: PDataValueType::Command,
                is_last: true,
                data: bytes,
            }],
        })
        .unwrap();
}

fn response(assoc: &mut ClientAssociation<std::net::TcpStream>) -> dimse::Command {
    match assoc.receive().unwrap() {
        Pdu::PData { data } => dimse::parse(&data[0].data).unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

fn store(
    assoc: &mut ClientAssociation<std::net::TcpStream>,
    context: u8,
    uid: &str,
    data: &[u8],
) -> u16 {
    command(assoc, context, dimse::store_rq(1, DX, uid));
    {
        use std::io::Write;
        let mut w = assoc.send_pdata(context);
        w.write_all(data).unwrap();
        w.finish().unwrap();
    }
    let rsp = response(assoc);
    assert_eq!(rsp.field, dimse::C_STORE_RSP);
    rsp.status.unwrap()
}

/// The data set (no file meta) of a small DX instance `uid`, explicit VR little endian.
fn dataset(uid: &str) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    let obj = dicom_object::InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, DX),
        text(tags::SOP_INSTANCE_UID, VR::UI, uid),
        text(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3"),
        text(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.0"),
        text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
    ]);
    let mut whole = Vec::new();
    obj.with_meta(dicom_object::FileMetaTableBuilder::new().transfer_syntax(EXPLICIT))
        .unwrap()
        .write_all(&mut whole)
        .unwrap();
    let meta_len = u32::from_le_bytes(whole[140..144].try_into().unwrap()) as usize;
    whole[144 + meta_len..].to_vec()
}

#[test]
fn echo_store_and_refusals_over_a_real_association() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = plan(tmp.path().join("spool"));
    let spool = std::sync::Arc::new(Spool::open(&plan.spool).unwrap());
    let (port, queue, server) = serve_one(&spool, &plan);
    let mut assoc = ClientAssociationOptions::new()
        .calling_ae_title("TEST")
        .called_ae_title("FRACDET")
        .with_presentation_context(DX, vec![EXPLICIT])
        .with_presentation_context(CT, vec![EXPLICIT])
        .with_presentation_context(DX, vec![JPEG_2000])
        .with_presentation_context("1.2.840.10008.1.1", vec![EXPLICIT])
        .establish(("127.0.0.1", port))
        .unwrap();
    // dicom-ul's requester keeps only the accepted contexts: CT, and DX offered only in
    // JPEG 2000, were refused.
    let pcs = assoc.presentation_contexts().to_vec();
    let accepted: Vec<(&str, &str)> = pcs
        .iter()
        .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .map(|pc| (pc.abstract_syntax.as_str(), pc.transfer_syntax.as_str()))
        .collect();
    assert_eq!(accepted, [(DX, EXPLICIT), ("1.2.840.10008.1.1", EXPLICIT)]);
    let (dx, echo) = (pcs[0].id, pcs[1].id);

    command(&mut assoc, echo, dimse::echo_rq(9));
    let rsp = response(&mut assoc);
    assert_eq!((rsp.field, rsp.status), (dimse::C_ECHO_RSP, Some(0)));

    // Corrupt: a data set cut inside an element.
    let good = dataset("1.2.3.1");
    let code = store(&mut assoc, dx, "1.2.3.1", &good[..good.len() - 7]);
    assert_eq!(code, status::CANNOT_UNDERSTAND);
    assert_eq!(spool.inbox().unwrap().len(), 0);
    // UIDs that disagree with the command.
    let code = store(&mut assoc, dx, "1.2.3.99", &good);
    assert_eq!(code, status::DATA_SET_MISMATCH);
    // A good one: spooled before success, and queued for analysis.
    let code = store(&mut assoc, dx, "1.2.3.1", &good);
    assert_eq!(code, status::SUCCESS);
    assert_eq!(spool.inbox().unwrap(), ["1.2.3.1"]);
    assert_eq!(
        queue.recv_timeout(Duration::from_secs(5)).unwrap(),
        "1.2.3.1"
    );
    // Too large for the limit: out of resources.
    let big = vec![0u8; (1 << 20) + 2];
    assert_eq!(
        store(&mut assoc, dx, "1.2.3.2", &big),
        status::OUT_OF_RESOURCES
    );
    assoc.release().unwrap();
    server.join().unwrap();

    // Another called AE title: rejected.
    let (port, _queue, server) = serve_one(&spool, &plan);
    let refused = ClientAssociationOptions::new()
        .calling_ae_title("TEST")
        .called_ae_title("SOMEONE")
        .with_presentation_context(DX, vec![EXPLICIT])
        .establish(("127.0.0.1", port));
    assert!(refused.is_err());
    server.join().unwrap();
}
