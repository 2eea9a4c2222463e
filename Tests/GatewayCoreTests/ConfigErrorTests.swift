import Testing
@testable import GatewayCore

@Suite struct ConfigErrorTests {
    @Test func describesOnePerLine() {
        let errors = ConfigErrors([
            ConfigError(file: "gateway.conf", line: 3, message: "unknown key \"x\""),
            ConfigError(file: "gateway.conf", line: 9, message: "bad"),
        ])
        #expect(errors.description == "gateway.conf:3: unknown key \"x\"\ngateway.conf:9: bad")
    }

    @Test func lineZeroMeansWholeFile() {
        #expect(ConfigError(file: "/x.conf", line: 0, message: "no such file").description == "/x.conf: no such file")
    }
}
