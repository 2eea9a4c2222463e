import Testing
@testable import GatewayProxy
@Test func moduleLoads() { #expect(Bool(true)) }
