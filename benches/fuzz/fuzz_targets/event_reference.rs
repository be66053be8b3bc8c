//! Event references (`HOUR:BATCH:ROW`, `N/HOUR:BATCH:ROW`), as `sluice
//! context` takes them, with the records before and after it: the context
//! of a reference that parses, or a clear error. The first line of the
//! input is the reference, the next two the counts before and after.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{sample_store, text};
use sluice_query::around::EventRef;

fuzz_target!(|data: &[u8]| {
    let Some(input) = text(data) else { return };
    let mut parts = input.split('\n');
    let Ok(event) = parts.next().unwrap_or("").parse::<EventRef>() else { return };
    assert_eq!(event.to_string().parse::<EventRef>().ok(), Some(event), "a reference prints as it parses");
    let count = |part: Option<&str>| part.and_then(|p| p.parse::<usize>().ok()).unwrap_or(3);
    let (before, after) = (count(parts.next()), count(parts.next()));
    if let Ok(context) = sample_store().context(event, before, after) {
        assert!(context.records.len() <= before.saturating_add(after).saturating_add(1));
        assert_eq!(context.records[context.event].0, event, "the event is where the context says");
    }
});
