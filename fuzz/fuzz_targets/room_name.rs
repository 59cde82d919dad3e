//! The room-name parser (`Room::parse`) on arbitrary text: it never panics, and a name
//! it accepts is the name of the room it returns (so one room has one name).
#![no_main]

use app::realtime::protocol::Room;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(room) = Room::parse(text) {
        assert_eq!(Room::parse(&room.name()), Some(room));
    }
});
