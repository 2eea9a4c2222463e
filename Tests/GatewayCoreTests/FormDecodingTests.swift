import GatewayCore
import Testing

@Suite struct FormDecodingTests {
    @Test func decodesPairsInOrder() throws {
        let pairs = try #require(FormDecoding.pairs(Array("grant_type=refresh_token&refresh_token=a%2Bb+c&flag".utf8)))
        #expect(pairs.map { String(decoding: $0.name, as: UTF8.self) } == ["grant_type", "refresh_token", "flag"])
        #expect(String(decoding: pairs[1].value, as: UTF8.self) == "a+b c")
        #expect(pairs[2].value.isEmpty)
    }

    @Test func badEscapesAreRefused() {
        for bad in ["a=%", "a=%4", "a=%zz", "%g0=1"] {
            #expect(FormDecoding.pairs(Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(FormDecoding.percentDecoded(Array("%41%62".utf8)) == Array("Ab".utf8))
    }
}
