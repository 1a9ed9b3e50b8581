//! Virus scan of precompiled letters through clamd's INSTREAM command (the `clamav-client`
//! crate speaks the protocol; the answer is read here, because only three outcomes matter and an
//! error from clamd must never be taken for a virus or for a clean file).

use std::time::Duration;

use clamav_client::tokio::{Socket, Tcp, scan_buffer};

/// What clamd said about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanVerdict {
    Clean,
    /// The signature name clamd reported.
    Infected(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot reach clamd at {address}: {source}")]
    Unreachable {
        address: String,
        source: std::io::Error,
    },
    #[error("clamd at {address} did not answer within {seconds} s")]
    Timeout { address: String, seconds: u64 },
    #[error("clamd could not scan the file: {0}")]
    Refused(String),
}

/// Where clamd listens: `host:port`, or the path of its unix socket (starts with `/`).
#[derive(Debug, Clone)]
pub struct Clamd {
    address: String,
    timeout: Duration,
}

impl Clamd {
    pub fn new(address: &str, timeout: Duration) -> Self {
        Clamd {
            address: address.to_string(),
            timeout,
        }
    }

    pub async fn scan(&self, bytes: &[u8]) -> Result<ScanVerdict, ScanError> {
        let address = self.address.clone();
        let work = async {
            if address.starts_with('/') {
                scan_buffer(
                    bytes,
                    Socket {
                        socket_path: address.as_str(),
                    },
                    None,
                )
                .await
            } else {
                scan_buffer(
                    bytes,
                    Tcp {
                        host_address: address.as_str(),
                    },
                    None,
                )
                .await
            }
        };
        let reply = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ScanError::Timeout {
                address: self.address.clone(),
                seconds: self.timeout.as_secs(),
            })?
            .map_err(|source| ScanError::Unreachable {
                address: self.address.clone(),
                source,
            })?;
        parse_reply(&reply)
    }
}

/// `stream: OK`, `stream: <signature> FOUND`, or anything else (`... ERROR`) as an error.
fn parse_reply(reply: &[u8]) -> Result<ScanVerdict, ScanError> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\0', '\n']).trim();
    let body = text.strip_prefix("stream:").map(str::trim).unwrap_or(text);
    if body == "OK" {
        Ok(ScanVerdict::Clean)
    } else if let Some(signature) = body.strip_suffix("FOUND") {
        Ok(ScanVerdict::Infected(signature.trim().to_string()))
    } else {
        Err(ScanError::Refused(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_kinds_of_answer() {
        assert_eq!(parse_reply(b"stream: OK\0").unwrap(), ScanVerdict::Clean);
        assert_eq!(
            parse_reply(b"stream: Test.EICAR-NDB.UNOFFICIAL FOUND\0").unwrap(),
            ScanVerdict::Infected("Test.EICAR-NDB.UNOFFICIAL".into())
        );
        // A size-limit error mentions neither OK nor FOUND as its verdict: not a virus.
        assert!(matches!(
            parse_reply(b"INSTREAM size limit exceeded. ERROR\0"),
            Err(ScanError::Refused(_))
        ));
        assert!(matches!(parse_reply(b""), Err(ScanError::Refused(_))));
    }
}
