import Testing
@testable import GatewayCore

/// `[[server.certificates]]` and the `[server] tls_certificate` pair: what
/// the listener's certificate list becomes, and the errors, each with its line.
@Suite struct ConfigTLSCertificatesTests {
    static let path = "/etc/gateway/gateway.conf"
    static let rest = """

        [upstreams.app]
        servers = ["127.0.0.1:9000"]

        [[routes]]
        prefix = "/"
        upstream = "app"
        auth = "none"

        """

    func parse(_ text: String, missing: Set<String> = []) throws(ConfigErrors) -> GatewayConfig {
        try ConfigLoader.parse(text: text + Self.rest, path: Self.path, environment: [:], coreCount: 1,
                               fileExists: { !missing.contains($0) })
    }

    func errors(_ text: String, missing: Set<String> = []) throws -> [ConfigError] {
        try #require(throws: ConfigErrors.self) { try parse(text, missing: missing) }.errors
    }

    func line(_ needle: String, in text: String, occurrence: Int = 1) -> Int {
        var seen = 0
        for (i, l) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where l.contains(needle) {
            seen += 1
            if seen == occurrence { return i + 1 }
        }
        return -1
    }

    @Test func severalCertificatesInFileOrderWithNormalizedNames() throws {
        let text = """
            [server]
            listen = ["127.0.0.1:8443"]

            [[server.certificates]]
            certificate = "certs/default.pem"
            private_key = "certs/default.key"

            [[server.certificates]]
            certificate = "/abs/api.pem"
            private_key = "/abs/api.key"
            server_names = ["API.Example.com", "*.apps.example.com"]
            """
        let certificates = try parse(text).server.certificates
        #expect(certificates == [
            TLSCertificateConfig(certificate: "/etc/gateway/certs/default.pem", privateKey: "/etc/gateway/certs/default.key",
                                 serverNames: [], place: "server.certificates[0]", line: line("[[server.certificates]]", in: text)),
            TLSCertificateConfig(certificate: "/abs/api.pem", privateKey: "/abs/api.key",
                                 serverNames: ["api.example.com", "*.apps.example.com"], place: "server.certificates[1]",
                                 line: line("[[server.certificates]]", in: text, occurrence: 2)),
        ])
    }

    @Test func theOldPairIsTheOnlyDefaultCertificate() throws {
        let text = "[server]\ntls_certificate = \"server.pem\"\ntls_private_key = \"server.key\"\n"
        let config = try parse(text)
        #expect(config.server.certificates == [
            TLSCertificateConfig(certificate: "/etc/gateway/server.pem", privateKey: "/etc/gateway/server.key",
                                 place: "server.tls_certificate", line: 2),
        ])
        #expect(config.server.tlsCertificate == "/etc/gateway/server.pem")
        #expect(try parse("[server]\nworkers = 1\n").server.certificates.isEmpty)
    }

    @Test func bothFormsAreAnError() throws {
        let text = """
            [server]
            tls_certificate = "server.pem"
            tls_private_key = "server.key"

            [[server.certificates]]
            certificate = "a.pem"
            private_key = "a.key"
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [5])
        #expect(found.map(\.message) == [
            "server.certificates: use either [[server.certificates]] or tls_certificate/tls_private_key, not both (tls_certificate is at line 2)",
        ])
        #expect(found[0].description.hasPrefix("\(Self.path):5: "))
    }

    @Test func missingFilesAndKeysAreReportedWithTheirLines() throws {
        let text = """
            [[server.certificates]]
            certificate = "a.pem"
            private_key = "gone.key"

            [[server.certificates]]
            private_key = "b.key"
            server_names = ["b.example"]
            """
        let found = try errors(text, missing: ["/etc/gateway/gone.key"])
        #expect(found.map(\.line) == [3, 5])
        #expect(found.map(\.message) == [
            "server.certificates[0].private_key: file not found: /etc/gateway/gone.key",
            "server.certificates[1]: missing key \"certificate\"",
        ])
    }

    @Test func serverNamesMustBeStringsAndHostNames() throws {
        let text = """
            [[server.certificates]]
            certificate = "a.pem"
            private_key = "a.key"
            server_names = "a.example"

            [[server.certificates]]
            certificate = "b.pem"
            private_key = "b.key"
            server_names = [
              "b.example",
              7,
            ]

            [[server.certificates]]
            certificate = "c.pem"
            private_key = "c.key"
            server_names = ["a.*.example", "*", "bad_name.example", "-x.example", "10.0.0.1", "x..example"]
            """
        let found = try errors(text)
        let names = line("a.*.example", in: text)
        #expect(found.map(\.line) == [4, 11] + Array(repeating: names, count: 6))
        let notAHost = "is not a host name (letters, digits, \"-\" and dots; \"*.\" only as the first label)"
        #expect(found.map(\.message) == [
            "server.certificates[0].server_names: expected an array of strings, found a string",
            "server.certificates[1].server_names[1]: expected a string, found an integer",
            "server.certificates[2].server_names[0]: \"a.*.example\" \(notAHost)",
            "server.certificates[2].server_names[1]: \"*\" \(notAHost)",
            "server.certificates[2].server_names[2]: \"bad_name.example\" \(notAHost)",
            "server.certificates[2].server_names[3]: \"-x.example\" \(notAHost)",
            "server.certificates[2].server_names[4]: \"10.0.0.1\": an IP address is never sent as a server name; the default certificate serves it",
            "server.certificates[2].server_names[5]: \"x..example\" \(notAHost)",
        ])
    }

    @Test func aNameServesOneCertificateAndLaterOnesNeedNames() throws {
        let text = """
            [[server.certificates]]
            certificate = "a.pem"
            private_key = "a.key"
            server_names = ["*.example.com"]

            [[server.certificates]]
            certificate = "b.pem"
            private_key = "b.key"
            server_names = ["API.example.com", "*.EXAMPLE.com"]

            [[server.certificates]]
            certificate = "c.pem"
            private_key = "c.key"
            sni = ["c.example"]
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [9, 11, line("sni =", in: text)])
        #expect(found.map(\.message) == [
            "server.certificates[1].server_names[1]: \"*.example.com\" is already listed at line 4",
            "server.certificates[2]: server_names is required on every certificate but the first (the default)",
            "unknown key \"sni\" in [server.certificates[2]]",
        ])
    }

    @Test func anEmptyListIsAnError() throws {
        let found = try errors("[server]\ncertificates = []\n")
        #expect(found.map(\.message) == ["server.certificates: at least one certificate is required"])
        #expect(found.map(\.line) == [2])
    }

    @Test func summaryNamesTheCertificates() throws {
        let text = """
            [[server.certificates]]
            certificate = "/c/a.pem"
            private_key = "/c/a.key"

            [[server.certificates]]
            certificate = "/c/b.pem"
            private_key = "/c/b.key"
            server_names = ["b.example", "*.b.example"]
            """
        let summary = try parse(text).summary()
        #expect(summary.contains("(TLS with 2 certificates chosen by SNI)\n"))
        #expect(summary.contains("  certificate /c/a.pem: - (default)\n"))
        #expect(summary.contains("  certificate /c/b.pem: b.example *.b.example\n"))
    }
}
