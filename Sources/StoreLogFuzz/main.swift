// Fuzz target for the embedded store's log reader (GatewayStore/Embedded:
// the header, record framing with CRC-32C, record decoding and replay into
// the in-memory state), through `EmbeddedLogCheck.check`.
//
// Built normally it replays files (or directories) given as arguments: the
// seed corpus (real state.log files from the integration tests) stays
// exercised. Built with `-D FUZZING -sanitize=fuzzer` (scripts/fuzz.sh
// storelog) `main` hands control to libFuzzer.
//
// Invariants checked on every input (a violation aborts):
//  - the reader never traps, whatever the bytes;
//  - the answer does not depend on anything but the bytes (same result twice);
//  - an image that reads cleanly, cut anywhere after its header, reads as
//    fewer records or as a torn tail: never as corruption and never as more
//    records (what start-up relies on to skip a torn last record);
//  - appending bytes to a clean image never loses a record that was read,
//    and any problem is reported in the appended part.
import FuzzReplay
import GatewayStore
#if canImport(Glibc)
import Glibc
#endif

func check(_ ok: Bool, _ what: String) {
    if !ok {
        print("invariant failed: \(what)")
        abort()
    }
}

func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let bytes = Array(input)
    let first = EmbeddedLogCheck.check(bytes)
    check(EmbeddedLogCheck.check(bytes) == first, "deterministic")
    guard case .success(let records) = first, bytes.count > 16 else { return }
    // A cut point taken from the bytes themselves, past the 8-byte header.
    let seed = bytes.reduce(0) { ($0 &* 31) &+ Int($1) }
    let cut = 8 + abs(seed % (bytes.count - 8))
    switch EmbeddedLogCheck.check(Array(bytes[0..<cut])) {
    case .success(let n): check(n <= records, "a cut image reads no more records")
    case .failure(let e): check(e.isTornTail, "a cut image is torn, not corrupt: \(e.message)")
    }
    var longer = bytes
    longer.append(contentsOf: bytes[8..<min(bytes.count, 8 + (seed & 63))])
    switch EmbeddedLogCheck.check(longer) {
    case .success(let n): check(n >= records, "appending keeps every record")
    case .failure(let e): check(e.offset >= bytes.count, "a failure lies in the appended bytes, not before")
    }
}

FuzzReplay.main { fuzzOne($0) }
