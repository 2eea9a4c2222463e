import GatewayCore
import Testing
@testable import GatewayAuth

/// `ReissuedClaimsWriter` (the reissue's claims written straight into
/// scratch) against the JSONObject path it replaces on the request path:
/// `JSONSerializer.serialize(TokenReissuer.claims(...))`, byte for byte.
@Suite struct ReissuedClaimsWriterTests {
    typealias Setup = TokenReissuerTests.Setup
    static let now = TokenReissuerTests.now

    /// Old claim sets: whitespace, escapes in names and values, unicode
    /// (raw and escaped, astral via surrogates), nested values, numbers in
    /// every form, reserved claims present, absent, or spelled with escapes.
    static let claimSets: [String] = [
        #"{"exp":1700000100}"#,
        #"{"sub":"u","iat":1699990000,"exp":1700000100,"jti":"j-1"}"#,
        "{ \"sub\" : \"u\" ,\r\n\t\"exp\" :\n1700000100 , \"aud\": [ \"a\" , \"b\" ] }",
        #"{"iss":"https:\/\/idp.example\/","exp":1700000100,"name":"Ren\u00e9e \"Q\" \\ back"}"#,
        #"{"exp":1700000100,"emoji":"\ud83d\ude00 and 😀","ctl":"\b\f\n\r\t\u0001\u001f\u007f","nul":"a\u0000b"}"#,
        #"{"exp":1700000100,"nested":{"a":[1,-2,3.5,-0,1e3,2E-2,12345678901234567890,-9223372036854775808],"b":{"c":null,"d":true,"e":false}},"arr":[[],{},[{}]]}"#,
        #"{"exp":1.7000001e9,"iat":1699990000.75,"auth_time":1699980000,"rfc":3}"#,
        #"{"auth_time":1699980000,"exp":1700000100,"name":null}"#,
        #"{"\u0069at":1699990000,"e\u0078p":1700000100,"j\u0074i":"escaped-name","r\u0066c":2}"#,
        #"{"exp":1700000100,"\u212Aid":"kelvin"}"#,
        #"{"exp":1700000100,"café":"raw","日本":"語"}"#,
        #"{"exp":1700000100,"cafe\u0301":"decomposed","K":1}"#,
        #"{"scope":"read write","exp":1700000100,"sid":"s-1","roles":["reader","editor"],"email":"x@example.com"}"#,
        #"{"exp":1700000100,"big":1e308,"small":-1e-308,"zero":0.0,"negzero":-0.0,"int":-42}"#,
        #"{"exp":1700000100,"rfc":9223372036854775807}"#,
        #"{"exp":1700000100,"x":"\/\/\/","y":"\u002F","z":"\u005c\u0022"}"#,
    ]

    /// Updates: none, empty, null removals (present and absent names),
    /// replacements in place, new members (nested, unicode), reserved names
    /// (ignored), a name equal to an old one only by canonical equivalence.
    static let updateSets: [String?] = [
        nil,
        "{}",
        #"{"name":null,"absent":null}"#,
        #"{"roles":["admin"],"new":{"deep":[1,{"x":"\u00e9"}]},"ünï":"cødé"}"#,
        #"{"iat":1,"exp":2,"jti":"x","rfc":7,"sub":"no","auth_time":3,"sid":"no","iss":"no","aud":"no","nbf":4}"#,
        #"{"Kid":"replaced","café":null,"emoji":"\ud83d\ude01"}"#,
        #"{"scope":"admin","email":null,"extra":1.5,"flag":false}"#,
        #"{"nested":null,"arr":"now a string","ctl":"\u0002"}"#,
    ]

    static func check(_ setup: Setup, claims: String, updates updateText: String?) throws {
        let (token, verified) = try setup.old(claims)
        let updates = try updateText.map { try TokenReissuer.parseClaimUpdates(Array($0.utf8)).get() }
        let expected = JSONSerializer.serialize(try token.withUnsafeBytes {
            try setup.reissuer.claims(old: $0, verified: verified, updates: updates, now: now)
        })
        var written: [UInt8] = []
        let ok = try token.withUnsafeBytes {
            try setup.reissuer.writeClaims(old: $0, verified: verified, updates: updates, now: now,
                                           workspace: nil, into: &written)
        }
        #expect(ok, "\(claims) \(updateText ?? "-")")
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: expected, as: UTF8.self),
                "\(claims) \(updateText ?? "-")")
        #expect(written == expected)
    }

    @Test func sameBytesAsTheJSONObjectPath() throws {
        let setup = try Setup()
        for claims in Self.claimSets {
            for updates in Self.updateSets { try Self.check(setup, claims: claims, updates: updates) }
        }
    }

    /// Random nested claim sets (names and strings with escapes, unicode,
    /// controls; numbers of every shape), each with random whitespace.
    @Test func sameBytesForRandomClaimSets() throws {
        let setup = try Setup()
        var rng = SeededGenerator(state: 0x5EED)   // RevocationViewBuilderTests.swift
        let pieces = ["a", "é", "\\u00e9", "\\n", "\\\"", "\\\\", "\\/", "😀", "\\ud83d\\ude00", "\\u0000", " ", "z9", "\\t"]
        func string() -> String {
            "\"" + (0..<Int(rng.next() % 4)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined() + "\""
        }
        func ws() -> String { ["", " ", "\n", "\t ", "\r\n"][Int(rng.next() % 5)] }
        func value(_ depth: Int) -> String {
            switch rng.next() % (depth > 3 ? 6 : 8) {
            case 0: return ["true", "false", "null"][Int(rng.next() % 3)]
            case 1: return String(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64))
            case 2: return ["1.5", "-0", "1e2", "2.50E-3", "123456789012345678901", "-0.0", "7E+1"][Int(rng.next() % 7)]
            case 3, 4, 5: return string()
            case 6:
                return "[" + ws() + (0..<Int(rng.next() % 4)).map { _ in value(depth + 1) }.joined(separator: ws() + "," + ws()) + ws() + "]"
            default:
                var names = Set<String>()
                let members = (0..<Int(rng.next() % 4)).compactMap { i -> String? in
                    let name = "\"k\(i)\(rng.next() % 3 == 0 ? "\\u00e9" : "")\""
                    guard names.insert(name).inserted else { return nil }
                    return name + ws() + ":" + ws() + value(depth + 1)
                }
                return "{" + ws() + members.joined(separator: ws() + "," + ws()) + ws() + "}"
            }
        }
        for i in 0..<300 {
            var members = ["\"exp\"" + ws() + ":" + ws() + "1700000100"]
            for j in 0..<Int(rng.next() % 6) { members.append("\"c\(j)\"" + ws() + ":" + ws() + value(0)) }
            if i % 3 == 0 { members.insert("\"jti\":" + string(), at: 0) }
            if i % 4 == 0 { members.append("\"iat\":1699990000") }
            let claims = "{" + ws() + members.joined(separator: ws() + "," + ws()) + ws() + "}"
            let updates: String? = i % 2 == 0 ? nil : "{\"c0\":null,\"c1\":" + value(1) + ",\"n\(i)\":" + value(1) + "}"
            try Self.check(setup, claims: claims, updates: updates)
        }
    }

    /// End to end: the worker path (writer into scratch, prepared signer)
    /// and the one-shot path (JSONObject, unprepared) give the same token,
    /// for HMAC and deterministic ECDSA keys.
    @Test func workerAndOneShotReissueGiveTheSameToken() throws {
        for alg in [JWSAlgorithm.hs256, .es256, .es384, .rs256] {
            let setup = try Setup(key: try TestKeys.signer(for: alg, kid: "gw"))
            let cache = ReissueCache(capacity: 64)
            for claims in Self.claimSets {
                for updateText in Self.updateSets {
                    let (token, verified) = try setup.old(claims)
                    let updates = try updateText.map { try TokenReissuer.parseClaimUpdates(Array($0.utf8)).get() }
                    let plain = try setup.reissuer.reissue(old: token, verified: verified, updates: updates, now: Self.now)
                    let cached = try setup.reissuer.reissue(old: token, verified: verified, updates: updates,
                                                            now: Self.now, cache: cache)
                    #expect(plain == cached, "\(alg) \(claims) \(updateText ?? "-")")
                }
            }
        }
    }

    @Test func decimalsAreStringsBytes() {
        for v: Int64 in [0, 1, -1, 9, 10, -10, 1_700_000_000, .max, .min, .max - 1, .min + 1] {
            var out: [UInt8] = []
            ReissuedClaimsWriter.writeDecimal(v, &out)
            #expect(out == Array(String(v).utf8))
        }
    }
}

