#![no_main]
//! Fuzz target: fetch_headers. The five signed-request headers, split from
//! the input at newlines, verify or are refused without panicking.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut f = text.splitn(6, '\n');
    let mut next = || f.next().unwrap_or_default().to_owned();
    let auth = ank_mailbox::fetch_auth::FetchAuth {
        address: next(),
        timestamp_ms: next().parse().unwrap_or(u64::MAX),
        nonce: next(),
        key: next(),
        signature: next(),
    };
    let body = next();
    let target = ank_mailbox::fetch_auth::Target {
        method: "GET",
        domain: "example.org",
        authority: "mail.example.org",
        path: "/v1/messages",
    };
    let _ = auth.verify(&target, body.as_bytes(), auth.timestamp_ms);
});
