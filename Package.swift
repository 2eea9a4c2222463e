// swift-tools-version:6.0
import PackageDescription

// Shared settings: explicit existentials, and imports internal unless a module
// re-exports on purpose, so C modules never leak into a public API.
// Release builds keep bounds and overflow checks (never the unchecked mode): this
// program parses hostile bytes, so a bad index must trap, never read on.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "gateway",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gateway", targets: ["gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C wrappers: the only places that see raw C pointers.
        .systemLibrary(name: "CLibevent", pkgConfig: "libevent_pthreads",
                       providers: [.apt(["libevent-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        // bufferevent_openssl: the one bridge between the two.
        .systemLibrary(name: "CLibeventTLS", pkgConfig: "libevent_openssl",
                       providers: [.apt(["libevent-dev", "libssl-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis",
                       providers: [.apt(["libhiredis-dev"])]),
        // libevent's allocator: per-thread caches of buffer chains (HAProxy's
        // pool caches), installed by GatewayLoop before any other libevent call.
        .target(name: "CLibeventPool", dependencies: ["CLibevent"]),

        // One libevent event_base per thread, its cross-thread inbox, timers, threads.
        .target(name: "GatewayLoop", dependencies: ["CLibevent", "CLibeventPool"], swiftSettings: strict),

        .target(name: "GatewayCore",
                dependencies: [.product(name: "TOMLKit", package: "TOMLKit")],
                swiftSettings: strict),
        .target(name: "GatewayAuth",
                dependencies: ["GatewayCore", "COpenSSL"],
                swiftSettings: strict),
        // Revocations and sessions (SPEC §7): the store protocol, the embedded
        // durable log, Redis.
        .target(name: "GatewayStore",
                dependencies: ["GatewayCore", "GatewayAuth", "GatewayLoop", "CHiredis", "CLibevent"],
                swiftSettings: strict),
        .target(name: "GatewayProxy",
                dependencies: ["GatewayCore", "GatewayAuth", "GatewayLoop", "GatewayStore",
                               "CLibevent", "CLibeventTLS", "COpenSSL"],
                swiftSettings: strict),
        .executableTarget(name: "gateway",
                dependencies: ["GatewayProxy", "GatewayCore", "GatewayAuth", "GatewayLoop",
                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: strict),

        // Fuzz driver for JWS/JSON decoding and verification; replays files when built normally.
        .executableTarget(name: "JWSFuzz", dependencies: ["GatewayAuth", "FuzzReplay"], swiftSettings: strict),

        // Differential fuzz driver: ClaimsReader against JSONParser on the verify path (scripts/fuzz.sh claims).
        .executableTarget(name: "ClaimsFuzz", dependencies: ["GatewayAuth", "FuzzReplay"], swiftSettings: strict),

        // Fuzz driver for the HTTP parser (scripts/fuzz.sh http); replays files when built normally.
        .executableTarget(name: "ParserFuzz", dependencies: ["GatewayCore", "FuzzReplay"], swiftSettings: strict),
        // Fuzz driver for request-path normalization (scripts/fuzz.sh path); replays files when built normally.
        .executableTarget(name: "PathFuzz", dependencies: ["GatewayCore", "FuzzReplay"], swiftSettings: strict),
        // Embedded store throughput and restart time (swift run -c release StoreBench [dir]).
        .executableTarget(name: "StoreBench", dependencies: ["GatewayStore", "GatewayAuth", "GatewayLoop"], swiftSettings: strict),
        // Fuzz driver for the embedded store's log reader (scripts/fuzz.sh storelog); replays files when built normally.
        .executableTarget(name: "StoreLogFuzz", dependencies: ["GatewayStore", "FuzzReplay"], swiftSettings: strict),
        // Fuzz driver for the config loader (scripts/fuzz.sh config); replays files when built normally.
        .executableTarget(name: "ConfigFuzz", dependencies: ["GatewayCore", "FuzzReplay"], swiftSettings: strict),
        // Fuzz driver for JWK set loading (scripts/fuzz.sh jwks); replays files when built normally.
        .executableTarget(name: "JWKSFuzz", dependencies: ["GatewayAuth", "FuzzReplay"], swiftSettings: strict),
        // Replay mode shared by the fuzz drivers.
        .target(name: "FuzzReplay", swiftSettings: strict),
        .executableTarget(name: "RevocationBench", dependencies: ["GatewayAuth"], swiftSettings: strict),
        // HS256 verification cost, cache miss and hit (swift run -c release ClaimsBench).
        .executableTarget(name: "ClaimsBench", dependencies: ["GatewayAuth"], swiftSettings: strict),

        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore"], swiftSettings: strict),
        .testTarget(name: "GatewayAuthTests", dependencies: ["GatewayAuth", "GatewayCore"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "GatewayStoreTests", dependencies: ["GatewayStore", "GatewayAuth", "GatewayLoop"],
                    swiftSettings: strict),
        .testTarget(name: "GatewayProxyTests", dependencies: ["GatewayProxy", "GatewayCore", "GatewayLoop", "CLibeventPool"],
                    swiftSettings: strict),
    ]
)
