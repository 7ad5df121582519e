//! The sending side: result files by C-STORE to the destination, one association for a
//! batch, each file's own status back.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use dicom_ul::ClientAssociationOptions;
use dicom_ul::Pdu;
use dicom_ul::association::ClientAssociation;
use dicom_ul::pdu::{PDataValue, PDataValueType, PresentationContextResultReason};

use crate::dimse;
use crate::error::NodeError;
use crate::policy::{RESULT_CLASSES, RESULT_TRANSFER_SYNTAX, VERIFICATION};

/// Where results go: `AE@HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub ae_title: String,
    pub host: String,
    pub port: u16,
}

impl FromStr for Destination {
    type Err = NodeError;

    fn from_str(s: &str) -> Result<Self, NodeError> {
        let bad = || NodeError::BadDestination(s.to_string());
        let (ae, addr) = s.split_once('@').ok_or_else(bad)?;
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if !ae_title_ok(ae) || host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Self {
            ae_title: ae.to_string(),
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.ae_title, self.host, self.port)
    }
}

/// An AE title: 1-16 printable ASCII characters, no backslash, not all spaces (PS3.5 AE).
pub fn ae_title_ok(ae: &str) -> bool {
    (1..=16).contains(&ae.len())
        && ae.bytes().all(|b| (0x20..0x7F).contains(&b) && b != b'\\')
        && !ae.trim().is_empty()
}

/// How one association to the destination is opened.
#[derive(Debug, Clone)]
pub struct Sender {
    pub destination: Destination,
    pub calling_ae_title: String,
    pub timeout: Duration,
}

impl Sender {
    fn associate(&self) -> Result<ClientAssociation<std::net::TcpStream>, String> {
        let mut options = ClientAssociationOptions::new()
            .calling_ae_title(self.calling_ae_title.clone())
            .called_ae_title(self.destination.ae_title.clone())
            .read_timeout(self.timeout)
            .write_timeout(self.timeout)
            .connection_timeout(self.timeout);
        for class in RESULT_CLASSES {
            options = options.with_presentation_context(*class, vec![RESULT_TRANSFER_SYNTAX]);
        }
        options = options.with_presentation_context(VERIFICATION, vec![RESULT_TRANSFER_SYNTAX]);
        options
            .establish((self.destination.host.as_str(), self.destination.port))
            .map_err(|e| format!("cannot associate: {e}"))
    }

    /// Sends `files` (Part-10, explicit VR little endian, as fracdet writes them) in one
    /// association; per file, `Ok` or why it was not stored. An association that cannot be
    /// opened fails every file with the same reason.
    pub fn store(&self, files: &[PathBuf]) -> Vec<Result<(), String>> {
        let mut assoc = match self.associate() {
            Ok(a) => a,
            Err(e) => return files.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut results = Vec::with_capacity(files.len());
        let mut broken: Option<String> = None;
        for (i, file) in files.iter().enumerate() {
            if let Some(e) = &broken {
                results.push(Err(e.clone()));
                continue;
            }
            let r = store_one(&mut assoc, file, (i % 0xFFFF) as u16 + 1);
            if let Err(Failure::Association(e)) = &r {
                broken = Some(e.clone());
            }
            results.push(r.map_err(|f| f.to_string()));
        }
        if broken.is_none() {
            let _ = assoc.release();
        } else {
            let _ = assoc.abort();
        }
        results
    }
}

enum Failure {
    /// This file only (unreadable, refused by the destination).
    File(String),
    /// The association is gone; the rest of the batch fails too.
    Association(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(s) | Self::Association(s) => f.write_str(s),
        }
    }
}

fn store_one(
    assoc: &mut ClientAssociation<std::net::TcpStream>,
    file: &Path,
    message_id: u16,
) -> Result<(), Failure> {
    let bytes =
        std::fs::read(file).map_err(|e| Failure::File(format!("{}: {e}", file.display())))?;
    let (class, instance, data) = split_part10(&bytes).ok_or_else(|| {
        Failure::File(format!(
            "{}: not a Part-10 file fracdet wrote",
            file.display()
        ))
    })?;
    let pc = assoc
        .presentation_contexts()
        .iter()
        .find(|pc| {
            pc.reason == PresentationContextResultReason::Acceptance
                && pc.abstract_syntax.trim_end_matches('\0') == class
        })
        .ok_or_else(|| {
            Failure::File(format!("the destination does not accept SOP class {class}"))
        })?;
    let id = pc.id;
    let lost =
        |e: dicom_ul::association::Error| Failure::Association(format!("association lost: {e}"));
    assoc
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: id,
                value_type: PDataValueType::Command,
                is_last: true,
                data: dimse::store_rq(message_id, &class, &instance),
            }],
        })
        .map_err(lost)?;
    {
        use std::io::Write;
        let mut writer = assoc.send_pdata(id);
        writer
            .write_all(data)
            .map_err(|e| Failure::Association(format!("association lost: {e}")))?;
        writer
            .finish()
            .map_err(|e| Failure::Association(format!("association lost: {e}")))?;
    }
    loop {
        match assoc.receive().map_err(lost)? {
            Pdu::PData { data } => {
                let command: Vec<u8> = data
                    .into_iter()
                    .filter(|v| v.value_type == PDataValueType::Command)
                    .flat_map(|v| v.data)
                    .collect();
                let rsp = dimse::parse(&command)
                    .map_err(|e| Failure::Association(format!("unreadable response: {e}")))?;
                if rsp.field != dimse::C_STORE_RSP {
                    continue;
                }
                let status = rsp.status.unwrap_or(0xFFFF);
                return if dimse::stored(status) {
                    Ok(())
                } else {
                    Err(Failure::File(format!(
                        "the destination refused {instance}: status 0x{status:04X}"
                    )))
                };
            }
            Pdu::AbortRQ { .. } => {
                return Err(Failure::Association("the destination aborted".into()));
            }
            other => {
                return Err(Failure::Association(format!(
                    "unexpected {}",
                    other.short_description()
                )));
            }
        }
    }
}

/// SOP class, SOP instance and the data set of a Part-10 file whose meta group states its
/// length (as every file fracdet writes does).
pub(crate) fn split_part10(bytes: &[u8]) -> Option<(String, String, &[u8])> {
    if bytes.get(128..132)? != b"DICM" || bytes.get(132..136)? != [2, 0, 0, 0] {
        return None;
    }
    let len = u32::from_le_bytes(bytes.get(140..144)?.try_into().ok()?) as usize;
    let meta = bytes.get(144..144 + len)?;
    let data = bytes.get(144 + len..)?;
    let (mut class, mut instance) = (None, None);
    let mut at = 0;
    while at + 8 <= meta.len() {
        let element = u16::from_le_bytes([meta[at + 2], meta[at + 3]]);
        let vr = &meta[at + 4..at + 6];
        let (value_at, value_len) = if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT") {
            let l = u32::from_le_bytes(meta.get(at + 8..at + 12)?.try_into().ok()?) as usize;
            (at + 12, l)
        } else {
            (
                at + 8,
                u16::from_le_bytes([meta[at + 6], meta[at + 7]]) as usize,
            )
        };
        let value = meta.get(value_at..value_at + value_len)?;
        let text = || {
            String::from_utf8_lossy(value)
                .trim_end_matches(['\0', ' '])
                .to_string()
        };
        match element {
            0x0002 => class = Some(text()),
            0x0003 => instance = Some(text()),
            _ => {}
        }
        at = value_at + value_len;
    }
    Some((class?, instance?, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_and_bad_ones_are_refused() {
        let d: Destination = "ORTHANC@127.0.0.1:4242".parse().unwrap();
        assert_eq!(d.ae_title, "ORTHANC");
        assert_eq!(d.host, "127.0.0.1");
        assert_eq!(d.port, 4242);
        assert_eq!(d.to_string(), "ORTHANC@127.0.0.1:4242");
        for bad in [
            "ORTHANC",
            "@h:1",
            "A@h",
            "A@:1",
            "A@h:0",
            "A@h:x",
            "WAY_TOO_LONG_AE_TITLE@h:1",
        ] {
            assert!(bad.parse::<Destination>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_from_the_spool_splits_into_meta_and_data_set() {
        let file = crate::scp::part10(
            "1.2.840.10008.5.1.4.1.1.7",
            "1.2.3.4",
            "1.2.840.10008.1.2.1",
            b"\x08\x00\x16\x00",
        );
        let (class, instance, data) = split_part10(&file).unwrap();
        assert_eq!(class, "1.2.840.10008.5.1.4.1.1.7");
        assert_eq!(instance, "1.2.3.4");
        assert_eq!(data, b"\x08\x00\x16\x00");
        assert!(split_part10(&file[..140]).is_none());
        assert!(split_part10(b"junk").is_none());
    }
}
