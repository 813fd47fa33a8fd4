//! An Ethernet frame from a tap or veth: walks every layer weft-wire knows
//! above it, checking that each representation re-emits to itself. The same
//! bytes read behind a virtio-net header are cut by the segmenter, and the
//! segments joined again by the coalescer: neither may panic, and a joined
//! super-frame must cut back into frames no longer than what went in.

#![no_main]

use weft_wire::{Coalescer, Segmenter, VnetHdr};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weft_fuzz::poke_unchecked(data);
    weft_fuzz::walk_frame(data);

    let Ok(hdr) = VnetHdr::parse(data) else {
        return;
    };
    let mut frame = data.get(weft_wire::VNET_HDR_LEN..).unwrap_or_default().to_vec();
    let mut segments = Vec::new();
    let _ = Segmenter::new().resolve(&hdr, &mut frame, |s| segments.push(s.to_vec()));
    let mut gro = Coalescer::new();
    let mut joined = Vec::new();
    for segment in &segments {
        if !gro.push(segment) {
            gro.take(|h, f| joined.push((*h, f.to_vec())));
            assert!(gro.push(segment), "an empty coalescer takes any frame");
        }
    }
    gro.take(|h, f| joined.push((*h, f.to_vec())));
    let longest = segments.iter().map(Vec::len).max().unwrap_or(0);
    for (hdr, mut frame) in joined {
        let mut again = 0;
        Segmenter::new()
            .resolve(&hdr, &mut frame, |s| {
                assert!(s.len() <= longest, "a cut segment outgrew its source");
                again += 1;
            })
            .expect("a joined super-frame cuts again");
        assert!(again >= 1);
    }
});
