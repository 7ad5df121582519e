//! f64 fields of checkpoint states as their shortest round-trip decimal strings (Rust's
//! `Display` / `parse` pair): serde_json's default float parser can be one ulp off, and a
//! resumed run must see its history and partial-epoch sums bit for bit. A NaN (a loss of an
//! epoch that scored nothing) survives too, which a JSON number cannot hold.
//!
//! Reading also takes a JSON number, and `null` as NaN: the classifier's and the
//! inpainter's checkpoints from before the engine stored plain numbers.

use serde::{Deserialize, Deserializer, Serializer};

/// What a float field may hold on disk.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Text(String),
    Number(f64),
    Null(()),
}

impl Stored {
    fn value<E: serde::de::Error>(self) -> Result<f64, E> {
        match self {
            Stored::Text(t) => t.parse().map_err(E::custom),
            Stored::Number(v) => Ok(v),
            Stored::Null(()) => Ok(f64::NAN),
        }
    }
}

pub mod float {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Stored::deserialize(d)?.value()
    }
}

/// [`float`] for an optional value (`null` when absent).
pub mod opt_float {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_some(&x.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Stored>::deserialize(d)? {
            None | Some(Stored::Null(())) => Ok(None),
            Some(v) => v.value().map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        #[serde(with = "super::float")]
        a: f64,
        #[serde(with = "super::opt_float")]
        b: Option<f64>,
    }

    #[test]
    fn round_trips_exactly_and_reads_old_numbers() {
        // 0.1 + 0.2 and a value whose plain JSON parse is known to be delicate.
        for a in [0.1 + 0.2, 2.225073858507201e-308, 1.0 / 3.0, -0.0] {
            let row = Row { a, b: Some(a) };
            let text = serde_json::to_string(&row).unwrap();
            let back: Row = serde_json::from_str(&text).unwrap();
            assert_eq!(back.a.to_bits(), a.to_bits(), "{text}");
            assert_eq!(back.b.map(f64::to_bits), Some(a.to_bits()));
        }
        let nan: Row = serde_json::from_str(
            &serde_json::to_string(&Row {
                a: f64::NAN,
                b: None,
            })
            .unwrap(),
        )
        .unwrap();
        assert!(nan.a.is_nan() && nan.b.is_none());
        let old: Row = serde_json::from_str(r#"{"a": 0.5, "b": 0.25}"#).unwrap();
        assert_eq!(
            old,
            Row {
                a: 0.5,
                b: Some(0.25)
            }
        );
        let old: Row = serde_json::from_str(r#"{"a": null, "b": null}"#).unwrap();
        assert!(old.a.is_nan() && old.b.is_none());
    }
}
