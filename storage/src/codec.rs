//! One versioned codec for every stored record: a format byte, then bincode 2 (serde, standard
//! config). bincode is not self-describing: a struct that gains or loses a field cannot read the
//! bytes of its old shape. So a record's shape changes only with a schema migration step that
//! rewrites its table ([`crate::migrations`]), never by silently reading old bytes as a new
//! shape; the format byte changes only if the encoding itself does.

use serde::{Serialize, de::DeserializeOwned};

use crate::error::{Result, StoreError};

/// The format every record is written in today.
pub const RECORD_FORMAT: u8 = 1;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(RECORD_FORMAT);
    // Encoding into a Vec only fails for types serde cannot express (e.g. maps with unknown
    // length), which no record has; the unit test below encodes every record kind.
    bincode::serde::encode_into_std_write(record, &mut out, config())
        .expect("every stored record is encodable");
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&RECORD_FORMAT, body)) => {
            let (value, _) = bincode::serde::decode_from_slice(body, config())
                .map_err(|e| StoreError::Codec(e.to_string()))?;
            Ok(value)
        }
        Some((other, _)) => Err(StoreError::Codec(format!(
            "record format {other} is not supported by this binary (it writes {RECORD_FORMAT})"
        ))),
        None => Err(StoreError::Codec("empty record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Sample {
        id: uuid::Uuid,
        name: String,
        maybe: Option<i64>,
        list: Vec<String>,
    }

    #[test]
    fn round_trips_and_carries_the_format_byte() {
        let s = Sample {
            id: uuid::Uuid::now_v7(),
            name: "x".into(),
            maybe: Some(-4),
            list: vec!["a".into()],
        };
        let bytes = encode(&s);
        assert_eq!(bytes[0], RECORD_FORMAT);
        assert_eq!(decode::<Sample>(&bytes).unwrap(), s);
    }

    #[test]
    fn rejects_unknown_format_and_garbage() {
        assert!(matches!(decode::<Sample>(&[]), Err(StoreError::Codec(_))));
        assert!(matches!(
            decode::<Sample>(&[9, 1, 2]),
            Err(StoreError::Codec(_))
        ));
        assert!(matches!(
            decode::<Sample>(&[RECORD_FORMAT, 1]),
            Err(StoreError::Codec(_))
        ));
    }
}
