import Testing
@testable import GatewayCore

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("1ms", Int64(1)), ("250ms", 250), ("1s", 1_000), ("30s", 30_000), ("5m", 300_000),
        ("1h", 3_600_000), ("2d", 172_800_000), ("1m30s", 90_000), ("1h30m", 5_400_000),
        ("1d2h3m4s5ms", 93_784_005), ("90s", 90_000), ("0001s", 1_000), ("36500d", 3_153_600_000_000),
    ])
    func parses(text: String, expected: Int64) throws {
        #expect(try DurationText.milliseconds(text) == expected)
    }

    @Test(arguments: [
        ("", DurationText.ParseError.empty),
        ("5 minutes", .unexpectedCharacter(" ")),
        ("-1s", .unexpectedCharacter("-")),
        ("+1s", .unexpectedCharacter("+")),
        ("1.5s", .unexpectedCharacter(".")),
        ("10x", .unknownUnit("x")),
        ("5minutes", .unknownUnit("minutes")),
        ("1S", .unknownUnit("S")),
        ("30", .missingUnit),
        ("1m30", .missingUnit),
        ("s", .missingNumber),
        ("30s1m", .unitsOutOfOrder),
        ("1s1s", .unitsOutOfOrder),
        ("0s", .zero),
        ("0h0m", .zero),
        ("99999999999999999999s", .overflow),
        ("9223372036854775807d", .overflow),
        ("106751991168d", .overflow),
        ("36501d", .overflow),
        ("5é", .unexpectedCharacter("é")),
    ])
    func rejects(text: String, expected: DurationText.ParseError) {
        #expect(throws: expected) { try DurationText.milliseconds(text) }
    }

    @Test func zeroOnlyWhenAllowed() throws {
        #expect(try DurationText.milliseconds("0s", allowZero: true) == 0)
        #expect(try DurationText.milliseconds("0ms", allowZero: true) == 0)
        #expect(throws: DurationText.ParseError.zero) { try DurationText.milliseconds("0s") }
    }

    @Test(arguments: [
        (Int64(0), "0s"), (1, "1ms"), (1_500, "1s500ms"), (90_000, "1m30s"), (3_600_000, "1h"),
        (259_200_000, "3d"), (93_784_005, "1d2h3m4s5ms"),
    ])
    func formats(ms: Int64, text: String) throws {
        #expect(DurationText.format(milliseconds: ms) == text)
        if ms > 0 { #expect(try DurationText.milliseconds(text) == ms) }
    }
}
