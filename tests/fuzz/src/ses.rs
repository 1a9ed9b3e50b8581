//! Amazon SES events through SNS (`POST /notifications/email/ses`): the SNS envelope by its
//! message type header, then the SES event it carries, or the subscription URL check.
//!
//! Input: a first line with the `x-amz-sns-message-type` header's value (empty: no header),
//! then the body.

use notify::receipts::ses;

pub fn run(data: &[u8]) {
    let (message_type, body) = crate::split_once(data, b'\n');
    let message_type = std::str::from_utf8(message_type)
        .ok()
        .filter(|t| !t.is_empty());
    match ses::parse_envelope(message_type, body) {
        Ok(ses::SnsEnvelope::Notification { message }) => {
            let _ = ses::parse_event(&message);
        }
        Ok(ses::SnsEnvelope::SubscriptionConfirmation { subscribe_url, .. }) => {
            let _ = ses::is_sns_url(&subscribe_url);
        }
        Ok(ses::SnsEnvelope::UnsubscribeConfirmation { .. }) | Err(_) => {}
    }
}
