//! The client-frame decoder (`ClientFrame::decode`, every transport's one decoder) on
//! arbitrary text: it never panics, and a frame it accepts encodes to text it decodes
//! back to the same frame.
#![no_main]

use app::realtime::protocol::ClientFrame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = ClientFrame::decode(text) {
        let again = serde_json::to_string(&frame).expect("a decoded frame encodes");
        assert_eq!(ClientFrame::decode(&again).as_ref(), Ok(&frame));
    }
});
