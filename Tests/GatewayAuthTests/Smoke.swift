import Testing
@testable import GatewayAuth
@Test func moduleLoads() { #expect(Bool(true)) }
