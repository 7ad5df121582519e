//! The receiving side: one association at a time per thread, C-ECHO answered, each C-STORE
//! spooled durably *before* its success is sent, anything that cannot be spooled answered
//! with a failure status the sender can act on.

use std::net::TcpStream;
use std::sync::mpsc::Sender;

use dicom_ul::Pdu;
use dicom_ul::association::server::{AcceptCalledAeTitle, DefaultNegotiation};
use dicom_ul::association::{Association, ServerAssociationOptions};
use dicom_ul::pdu::{PDataValue, PDataValueType, PresentationContextResultReason};

use crate::dimse::{self, Command, status};
use crate::policy::is_uid;
use crate::spool::Spool;

/// Limits of one association.
#[derive(Debug, Clone)]
pub struct ScpLimits {
    /// Largest instance accepted, bytes; a larger one is answered "out of resources".
    pub max_instance_bytes: usize,
    /// Instances waiting for analysis before new ones are refused ("out of resources").
    pub max_spooled: usize,
}

/// What a store came to, for the association's summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub stored: usize,
    pub refused: usize,
    pub echoes: usize,
}

/// Association options of the receiving side (see [`crate::node::receiver_options`]).
pub type Options = ServerAssociationOptions<'static, AcceptCalledAeTitle, DefaultNegotiation>;

/// A store in progress: its command, and the data set's fragments so far.
struct Pending {
    context: u8,
    command: Command,
    data: Vec<u8>,
    too_large: bool,
}

/// Serves one association to its end (release, abort, idle time-out or a broken peer).
pub fn serve(
    stream: TcpStream,
    options: &Options,
    spool: &Spool,
    limits: &ScpLimits,
    queue: &Sender<String>,
) -> Tally {
    let mut tally = Tally::default();
    let mut assoc = match options.establish(stream) {
        Ok(a) => a,
        Err(e) => {
            // An unexpected PDU's display would dump its bytes, which could be a data set.
            let why = match &e {
                dicom_ul::association::Error::UnexpectedPdu { .. }
                | dicom_ul::association::Error::UnknownPdu { .. } => {
                    "unexpected PDU before the association".to_string()
                }
                other => other.to_string(),
            };
            tracing::info!("association not established: {why}");
            return tally;
        }
    };
    let peer = assoc.peer_ae_title().to_string();
    tracing::debug!(peer = %peer, "association established");
    let mut command_buf: Vec<u8> = Vec::new();
    let mut pending: Option<Pending> = None;
    loop {
        let pdu = match assoc.receive() {
            Ok(pdu) => pdu,
            Err(e) => {
                // Idle time-out, closed socket, or a PDU over the negotiated maximum.
                tracing::info!(peer = %peer, "association ended: {e}");
                let _ = assoc.abort();
                return tally;
            }
        };
        match pdu {
            Pdu::PData { data } => {
                for pdv in data {
                    let reply = handle_pdv(
                        pdv,
                        &mut command_buf,
                        &mut pending,
                        &assoc,
                        spool,
                        limits,
                        queue,
                        &mut tally,
                    );
                    if let Some(reply) = reply
                        && let Err(e) = assoc.send(&reply)
                    {
                        tracing::warn!(peer = %peer, "cannot answer: {e}");
                        return tally;
                    }
                }
            }
            Pdu::ReleaseRQ => {
                let _ = assoc.send(&Pdu::ReleaseRP);
                tracing::debug!(peer = %peer, stored = tally.stored, "association released");
                return tally;
            }
            Pdu::AbortRQ { .. } => {
                tracing::info!(peer = %peer, "association aborted by the peer");
                return tally;
            }
            other => {
                tracing::warn!(peer = %peer, "unexpected PDU {}", other.short_description());
                let _ = assoc.abort();
                return tally;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn handle_pdv(
    pdv: PDataValue,
    command_buf: &mut Vec<u8>,
    pending: &mut Option<Pending>,
    assoc: &impl Association,
    spool: &Spool,
    limits: &ScpLimits,
    queue: &Sender<String>,
    tally: &mut Tally,
) -> Option<Pdu> {
    let context = pdv.presentation_context_id;
    match pdv.value_type {
        PDataValueType::Command => {
            // A command set is small; anything larger is not one.
            if command_buf.len() + pdv.data.len() > 64 * 1024 {
                command_buf.clear();
                return None;
            }
            command_buf.extend_from_slice(&pdv.data);
            if !pdv.is_last {
                return None;
            }
            let bytes = std::mem::take(command_buf);
            let command = match dimse::parse(&bytes) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("unreadable command set: {e}");
                    return None;
                }
            };
            match command.field {
                dimse::C_ECHO_RQ => {
                    tally.echoes += 1;
                    Some(command_pdu(context, dimse::echo_rsp(command.message_id)))
                }
                dimse::C_STORE_RQ if command.has_data_set => {
                    *pending = Some(Pending {
                        context,
                        command,
                        data: Vec::new(),
                        too_large: false,
                    });
                    None
                }
                other => {
                    tracing::warn!("command 0x{other:04X} not supported; ignored");
                    None
                }
            }
        }
        PDataValueType::Data => {
            let p = pending.as_mut()?;
            if p.context != context {
                return None;
            }
            if p.data.len() + pdv.data.len() > limits.max_instance_bytes {
                // Keep reading the fragments (the peer sends them anyway), keep none.
                p.too_large = true;
                p.data = Vec::new();
            } else if !p.too_large {
                p.data.extend_from_slice(&pdv.data);
            }
            if !pdv.is_last {
                return None;
            }
            let p = pending.take()?;
            let class = p.command.affected_sop_class.clone().unwrap_or_default();
            let instance = p.command.affected_sop_instance.clone().unwrap_or_default();
            let code = store(&p, assoc, spool, limits, queue);
            if code == status::SUCCESS {
                tally.stored += 1;
            } else {
                tally.refused += 1;
            }
            Some(command_pdu(
                context,
                dimse::store_rsp(p.command.message_id, &class, &instance, code),
            ))
        }
    }
}

/// Checks and spools one received instance; the status to answer with.
fn store(
    p: &Pending,
    assoc: &impl Association,
    spool: &Spool,
    limits: &ScpLimits,
    queue: &Sender<String>,
) -> u16 {
    let uid = p.command.affected_sop_instance.as_deref().unwrap_or("");
    let class = p.command.affected_sop_class.as_deref().unwrap_or("");
    // Logged by UID only when it is one; a peer's junk is never echoed.
    let shown = if is_uid(uid) { uid } else { "(invalid UID)" };
    let Some(pc) = assoc
        .presentation_contexts()
        .iter()
        .find(|pc| pc.id == p.context && pc.reason == PresentationContextResultReason::Acceptance)
    else {
        tracing::warn!(
            instance = shown,
            "store on a presentation context not accepted"
        );
        return status::SOP_CLASS_NOT_SUPPORTED;
    };
    if pc.abstract_syntax.trim_end_matches('\0') != class {
        tracing::warn!(
            instance = shown,
            "SOP class differs from its presentation context"
        );
        return status::SOP_CLASS_NOT_SUPPORTED;
    }
    if p.too_large {
        tracing::warn!(
            instance = shown,
            limit = limits.max_instance_bytes,
            "instance too large; refused"
        );
        return status::OUT_OF_RESOURCES;
    }
    if !is_uid(uid) {
        tracing::warn!("store with an invalid Affected SOP Instance UID; refused");
        return status::DATA_SET_MISMATCH;
    }
    if spool.inbox_len() >= limits.max_spooled {
        tracing::warn!(instance = uid, "spool full; refused");
        return status::OUT_OF_RESOURCES;
    }
    let part10 = part10(
        class,
        uid,
        pc.transfer_syntax.trim_end_matches('\0'),
        &p.data,
    );
    // The whole header through fracdet's hardened parser: a corrupt instance is refused
    // now, while the sender can still be told.
    let image = match fracdet_io::write::source_image(&part10, std::path::Path::new(uid)) {
        Ok(image) if image.sop_instance_uid == uid && image.sop_class_uid == class => image,
        Ok(_) => {
            tracing::warn!(
                instance = uid,
                "data set UIDs differ from the command's; refused"
            );
            return status::DATA_SET_MISMATCH;
        }
        Err(e) => {
            tracing::warn!(instance = uid, "corrupt instance refused: {e}");
            return status::CANNOT_UNDERSTAND;
        }
    };
    if let Err(e) = spool.accept(uid, &image.study_instance_uid, &part10) {
        tracing::error!(instance = uid, "cannot spool: {e}");
        return status::OUT_OF_RESOURCES;
    }
    tracing::info!(instance = uid, "received");
    let _ = queue.send(uid.to_string());
    status::SUCCESS
}

/// A Part-10 file of a data set received in `transfer_syntax`: preamble, magic, file meta
/// (explicit VR little endian, built here), then the data set's bytes exactly as received.
pub(crate) fn part10(class: &str, instance: &str, transfer_syntax: &str, data: &[u8]) -> Vec<u8> {
    let mut meta = Vec::new();
    let mut element = |tag: u16, vr: &[u8; 2], value: &[u8], pad: u8| {
        let mut v = value.to_vec();
        if v.len() % 2 == 1 {
            v.push(pad);
        }
        meta.extend_from_slice(&0x0002u16.to_le_bytes());
        meta.extend_from_slice(&tag.to_le_bytes());
        meta.extend_from_slice(vr);
        if vr == b"OB" {
            meta.extend_from_slice(&[0, 0]);
            meta.extend_from_slice(&(v.len() as u32).to_le_bytes());
        } else {
            meta.extend_from_slice(&(v.len() as u16).to_le_bytes());
        }
        meta.extend_from_slice(&v);
    };
    element(0x0001, b"OB", &[0, 1], 0);
    element(0x0002, b"UI", class.as_bytes(), 0);
    element(0x0003, b"UI", instance.as_bytes(), 0);
    element(0x0010, b"UI", transfer_syntax.as_bytes(), 0);
    element(0x0012, b"UI", NODE_IMPLEMENTATION_CLASS_UID.as_bytes(), 0);
    element(0x0013, b"SH", NODE_IMPLEMENTATION_VERSION.as_bytes(), b' ');
    let mut out = Vec::with_capacity(144 + meta.len() + data.len());
    out.extend_from_slice(&[0u8; 128]);
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(data);
    out
}

/// fracdet's implementation class UID (the same as its result files carry).
const NODE_IMPLEMENTATION_CLASS_UID: &str = "2.25.171189469035348676997906456294465988032";
const NODE_IMPLEMENTATION_VERSION: &str = concat!("FRACDET_", env!("CARGO_PKG_VERSION"));

fn command_pdu(context: u8, data: Vec<u8>) -> Pdu {
    Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: context,
            value_type: PDataValueType::Command,
            is_last: true,
            data,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_data_set_becomes_a_readable_file() {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        use dicom_dictionary_std::tags;
        let obj = dicom_object::InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::SOP_CLASS_UID,
                VR::UI,
                PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.1"),
            ),
            DataElement::new(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from("1.2.3.4"),
            ),
            DataElement::new(
                tags::STUDY_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from("1.2.3"),
            ),
        ]);
        // A whole file from dicom-rs, then only its data set, as a peer sends it.
        let mut whole = Vec::new();
        obj.with_meta(
            dicom_object::FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"),
        )
        .unwrap()
        .write_all(&mut whole)
        .unwrap();
        let meta_len = u32::from_le_bytes(whole[140..144].try_into().unwrap()) as usize;
        let data = &whole[144 + meta_len..];
        let file = part10(
            "1.2.840.10008.5.1.4.1.1.1",
            "1.2.3.4",
            "1.2.840.10008.1.2.1",
            data,
        );
        let image = fracdet_io::write::source_image(&file, std::path::Path::new("x")).unwrap();
        assert_eq!(image.sop_instance_uid, "1.2.3.4");
        assert_eq!(image.study_instance_uid, "1.2.3");
        // Truncated: an error, never a panic.
        assert!(
            fracdet_io::write::source_image(&file[..file.len() - 5], std::path::Path::new("x"))
                .is_err()
        );
    }
}
