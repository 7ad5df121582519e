//! DIMSE command sets (PS3.7 9.3, E.1) for C-ECHO and C-STORE: always implicit VR little
//! endian, a flat list of group-0000 elements, so they are read and written here directly
//! (bounded, no parser to trust with a peer's bytes).

/// Command Field values.
pub const C_STORE_RQ: u16 = 0x0001;
pub const C_STORE_RSP: u16 = 0x8001;
pub const C_ECHO_RQ: u16 = 0x0030;
pub const C_ECHO_RSP: u16 = 0x8030;

/// Command Data Set Type: no data set follows.
const NO_DATA_SET: u16 = 0x0101;
/// Any other value says a data set follows; this is the one commonly sent.
const DATA_SET_PRESENT: u16 = 0x0000;

/// DIMSE status codes this node answers with (PS3.4 B.2.3, PS3.7 C).
pub mod status {
    pub const SUCCESS: u16 = 0x0000;
    /// Refused: SOP Class not supported (on this presentation context).
    pub const SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;
    /// Refused: out of resources (spool full or not writable, instance too large).
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    /// Error: data set does not match SOP Class (or its UIDs disagree with the command).
    pub const DATA_SET_MISMATCH: u16 = 0xA900;
    /// Error: cannot understand (the data set cannot be parsed).
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
}

/// Whether a C-STORE-RSP status means the instance was stored (success or a warning).
pub fn stored(status: u16) -> bool {
    status == status::SUCCESS || (0xB000..=0xBFFF).contains(&status) || status == 0x0107
}

/// The elements of a received command that this node uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    pub field: u16,
    pub message_id: u16,
    pub message_id_responded_to: Option<u16>,
    pub affected_sop_class: Option<String>,
    pub affected_sop_instance: Option<String>,
    pub has_data_set: bool,
    pub status: Option<u16>,
}

/// Why a command set could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("command set truncated at byte {0}")]
    Truncated(usize),
    #[error("command set has no Command Field (0000,0100)")]
    NoCommandField,
    #[error("command set element ({0:04X},{1:04X}) is outside group 0000")]
    NotCommandGroup(u16, u16),
}

/// Reads a command set.
pub fn parse(bytes: &[u8]) -> Result<Command, CommandError> {
    let mut c = Command {
        has_data_set: true,
        ..Command::default()
    };
    let mut field = None;
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes.get(at..at + 8).ok_or(CommandError::Truncated(at))?;
        let group = u16::from_le_bytes([head[0], head[1]]);
        let element = u16::from_le_bytes([head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let value = bytes
            .get(at + 8..at + 8 + len)
            .ok_or(CommandError::Truncated(at))?;
        if group != 0x0000 {
            return Err(CommandError::NotCommandGroup(group, element));
        }
        let u16v = || (value.len() >= 2).then(|| u16::from_le_bytes([value[0], value[1]]));
        let uid = || {
            let s = String::from_utf8_lossy(value);
            let s = s.trim_end_matches(['\0', ' ']).trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        match element {
            0x0002 => c.affected_sop_class = uid(),
            0x0100 => field = u16v(),
            0x0110 => c.message_id = u16v().unwrap_or(0),
            0x0120 => c.message_id_responded_to = u16v(),
            0x0800 => c.has_data_set = u16v() != Some(NO_DATA_SET),
            0x0900 => c.status = u16v(),
            0x1000 => c.affected_sop_instance = uid(),
            _ => {}
        }
        at += 8 + len;
    }
    c.field = field.ok_or(CommandError::NoCommandField)?;
    Ok(c)
}

/// A C-ECHO-RSP to `message_id`, success.
pub fn echo_rsp(message_id: u16) -> Vec<u8> {
    encode(&[
        (0x0002, Value::Uid("1.2.840.10008.1.1")),
        (0x0100, Value::Us(C_ECHO_RSP)),
        (0x0120, Value::Us(message_id)),
        (0x0800, Value::Us(NO_DATA_SET)),
        (0x0900, Value::Us(status::SUCCESS)),
    ])
}

/// A C-STORE-RSP to `message_id` with `status`.
pub fn store_rsp(message_id: u16, sop_class: &str, sop_instance: &str, status: u16) -> Vec<u8> {
    encode(&[
        (0x0002, Value::Uid(sop_class)),
        (0x0100, Value::Us(C_STORE_RSP)),
        (0x0120, Value::Us(message_id)),
        (0x0800, Value::Us(NO_DATA_SET)),
        (0x0900, Value::Us(status)),
        (0x1000, Value::Uid(sop_instance)),
    ])
}

/// A C-STORE-RQ, medium priority, a data set following.
pub fn store_rq(message_id: u16, sop_class: &str, sop_instance: &str) -> Vec<u8> {
    encode(&[
        (0x0002, Value::Uid(sop_class)),
        (0x0100, Value::Us(C_STORE_RQ)),
        (0x0110, Value::Us(message_id)),
        (0x0700, Value::Us(0)),
        (0x0800, Value::Us(DATA_SET_PRESENT)),
        (0x1000, Value::Uid(sop_instance)),
    ])
}

/// A C-ECHO-RQ.
pub fn echo_rq(message_id: u16) -> Vec<u8> {
    encode(&[
        (0x0002, Value::Uid("1.2.840.10008.1.1")),
        (0x0100, Value::Us(C_ECHO_RQ)),
        (0x0110, Value::Us(message_id)),
        (0x0800, Value::Us(NO_DATA_SET)),
    ])
}

enum Value<'a> {
    Us(u16),
    Uid(&'a str),
}

/// Elements in ascending tag order, preceded by Command Group Length (0000,0000).
fn encode(elements: &[(u16, Value<'_>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (element, value) in elements {
        let bytes: Vec<u8> = match value {
            Value::Us(v) => v.to_le_bytes().to_vec(),
            Value::Uid(s) => {
                let mut b = s.as_bytes().to_vec();
                // UI values are padded to even length with NUL (PS3.5 6.2).
                if b.len() % 2 == 1 {
                    b.push(0);
                }
                b
            }
        };
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&element.to_le_bytes());
        body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        body.extend_from_slice(&bytes);
    }
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_request_reads_back() {
        let rq = store_rq(7, "1.2.840.10008.5.1.4.1.1.1", "1.2.3.45");
        let c = parse(&rq).unwrap();
        assert_eq!(c.field, C_STORE_RQ);
        assert_eq!(c.message_id, 7);
        assert_eq!(
            c.affected_sop_class.as_deref(),
            Some("1.2.840.10008.5.1.4.1.1.1")
        );
        assert_eq!(c.affected_sop_instance.as_deref(), Some("1.2.3.45"));
        assert!(c.has_data_set);
        // The group length counts every byte after it.
        let len = u32::from_le_bytes(rq[8..12].try_into().unwrap()) as usize;
        assert_eq!(len, rq.len() - 12);

        let rsp = parse(&store_rsp(7, "1.2", "1.2.3", status::OUT_OF_RESOURCES)).unwrap();
        assert_eq!(rsp.field, C_STORE_RSP);
        assert_eq!(rsp.message_id_responded_to, Some(7));
        assert_eq!(rsp.status, Some(0xA700));
        assert!(!rsp.has_data_set);
        assert!(!stored(0xA700) && stored(0) && stored(0xB007));
    }

    #[test]
    fn broken_command_sets_are_errors() {
        let rq = echo_rq(1);
        // Cut anywhere before the Command Field's end: an error, never a panic.
        for cut in 1..32 {
            assert!(parse(&rq[..cut]).is_err(), "cut {cut}");
        }
        for cut in 32..rq.len() {
            let _ = parse(&rq[..cut]);
        }
        assert_eq!(parse(&[]), Err(CommandError::NoCommandField));
        let mut other = rq.clone();
        other[0] = 8;
        assert!(matches!(
            parse(&other),
            Err(CommandError::NotCommandGroup(8, 0))
        ));
    }
}
