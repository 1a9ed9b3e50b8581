//! What text-message providers post back (`/notifications/sms/{mmg,firetext}` and
//! `/notifications/sms/receive/{mmg,firetext}`): receipts and received texts, parsed and then
//! read the way the routes read them (status, sub-status, the notification id, the outcome
//! for each current status), and the routes' optional basic auth header.
//!
//! Input: one byte naming the route (`m` MMG receipt, `M` MMG inbound, `f` Firetext receipt,
//! `F` Firetext inbound, `a` basic auth header; any other byte tries every route), then the
//! body.

use notify::receipts::{self, firetext, mmg};
use storage::records::NotificationStatus;

pub fn run(data: &[u8]) {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    match route {
        b'm' => mmg_receipt(body),
        b'M' => {
            let _ = mmg::parse_inbound(body);
        }
        b'f' => firetext_receipt(body),
        b'F' => {
            let _ = firetext::parse_inbound(body);
        }
        b'a' => basic_auth(body),
        _ => {
            mmg_receipt(body);
            let _ = mmg::parse_inbound(body);
            firetext_receipt(body);
            let _ = firetext::parse_inbound(body);
            basic_auth(body);
        }
    }
}

fn mmg_receipt(body: &[u8]) {
    let Ok(receipt) = mmg::parse_receipt(body) else {
        return;
    };
    let _ = mmg::substatus_description(&receipt.status, receipt.detail.as_deref());
    let _ = mmg::status_for(&receipt.status);
    let _ = receipts::receipt_notification_id(mmg::CLIENT, &receipt.reference);
}

fn firetext_receipt(body: &[u8]) {
    let Ok(receipt) = firetext::parse_receipt(body) else {
        return;
    };
    let _ = receipts::receipt_notification_id(firetext::CLIENT, &receipt.reference);
    for current in [
        NotificationStatus::Sending,
        NotificationStatus::Pending,
        NotificationStatus::Delivered,
    ] {
        let _ = firetext::decide(&receipt.status, receipt.detail.as_deref(), current);
    }
}

fn basic_auth(body: &[u8]) {
    if let Ok(header) = std::str::from_utf8(body) {
        let _ = receipts::parse_basic_auth(header);
    }
}
