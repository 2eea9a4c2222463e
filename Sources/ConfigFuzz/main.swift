// Fuzz target for the config loader (GatewayCore/Config): TOML text through
// toml++, the line-map scanner, every section's validation, and the
// `gateway check` summary of what loads.
//
// The input is the text of a gateway.conf. It goes through
// `ConfigLoader.parse(text:...)` with an injected `fileExists` and a fixed
// environment, so nothing touches the file system or the process
// environment. Built normally it replays files (or directories) given as
// arguments; built with `-D FUZZING -sanitize=fuzzer,address`
// (scripts/fuzz.sh config) `main` hands control to libFuzzer.
//
// Invariants checked for every input (a violation aborts):
//  - the loader never traps, and answers the same twice;
//  - a refusal carries at least one error, each naming the file given, with
//    a line in 1...(lines of the text) (line 0 is only for files that cannot
//    be read, which `parse` never sees), in line order, no two alike;
//  - no message and no summary contains the value of a secret environment
//    variable (they name the variable, never its content);
//  - a config that loads is coherent: routes name defined upstreams, every
//    upstream has servers, kids are unique, the refresh signing key is one
//    of the keys, paths are absolute; its summary renders, line by line;
//  - appending a comment line changes nothing; prepending one moves every
//    line number (in errors and in the config) down by exactly one, except
//    errors about the whole document, which stay at line 1.
import FuzzReplay
import GatewayCore
#if canImport(Glibc)
import Glibc
#endif

func check(_ ok: Bool, _ what: String, _ text: String) {
    if !ok {
        print("invariant violated: \(what) for \(text.debugDescription)")
        fflush(nil)
        abort()
    }
}

let configPath = "/etc/gateway/gateway.conf"
/// Present for every secret_env the seeds use; the value is what must never be shown.
let secretValue = "fuzz-secret-0123456789-abcdefghijklmnop-XYZ"
let environment = [
    "GATEWAY_HMAC_SECRET": secretValue,
    "GATEWAY_SECRET": secretValue,
    "GW_HS": secretValue,
    "GW_SECRET": secretValue,
    "HMAC_SECRET": secretValue,
    "JWT_SECRET": secretValue,
    "SHORT_SECRET": "short",
]

/// Every named file exists, except paths that say they are missing: both
/// branches of the checks are reachable, and no file is ever opened.
func fileExists(_ path: String) -> Bool { !path.contains("missing") }

func load(_ text: String) -> Result<GatewayConfig, ConfigErrors> {
    do throws(ConfigErrors) {
        return .success(try ConfigLoader.parse(text: text, path: configPath, environment: environment,
                                               coreCount: 4, fileExists: fileExists))
    } catch {
        return .failure(error)
    }
}

func lineCount(_ text: String) -> Int { text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 } }

/// Refused before any TOML table existed: syntax errors and NUL bytes.
func isSyntaxError(_ errors: ConfigErrors) -> Bool {
    errors.errors.contains { $0.message.hasPrefix("TOML syntax") || $0.message == "NUL byte in file" }
}

/// The same config with every recorded line moved by `delta`.
func shifted(_ config: GatewayConfig, by delta: Int) -> GatewayConfig {
    var c = config
    for i in c.routes.indices { c.routes[i].line += delta }
    for i in c.keys.indices { c.keys[i].line += delta }
    for i in c.server.certificates.indices { c.server.certificates[i].line += delta }
    return c
}

func checkErrors(_ errors: ConfigErrors, _ text: String) {
    check(!errors.errors.isEmpty, "a refusal has at least one error", text)
    let lines = lineCount(text)
    var previous = 0
    var seen = Set<String>()
    for e in errors.errors {
        check(e.file == configPath, "error names the file", text)
        check(e.line >= 1 && e.line <= lines, "error line \(e.line) within 1...\(lines)", text)
        check(e.line >= previous, "errors in line order", text)
        previous = e.line
        check(seen.insert(e.description).inserted, "no duplicate error", text)
        check(e.description.hasPrefix("\(configPath):\(e.line): "), "file:line: message", text)
        check(!e.message.contains(secretValue), "no secret value in a message", text)
    }
}

func checkConfig(_ config: GatewayConfig, _ text: String) {
    check(config.sourcePath == configPath, "sourcePath", text)
    check(!config.server.listen.isEmpty, "at least one listen address", text)
    check(config.server.workers >= 1, "workers resolved", text)
    check(!config.routes.isEmpty, "at least one route", text)
    for route in config.routes {
        check(route.prefix.hasPrefix("/"), "route prefix starts with /", text)
        check(config.upstreams[route.upstream] != nil, "route names a defined upstream", text)
        check(route.line >= 1 && route.line <= lineCount(text), "route line inside the text", text)
        check(route.auth != .none || route.scopes.isEmpty, "no scopes on auth none", text)
    }
    for (name, upstream) in config.upstreams {
        check(upstream.name == name, "upstream keyed by its name", text)
        check(!upstream.servers.isEmpty && upstream.servers.allSatisfy { $0.port != 0 }, "upstream servers", text)
    }
    let kids = config.keys.compactMap(\.kid)
    check(Set(kids).count == kids.count, "kids unique", text)
    if let kid = config.refresh.signingKey { check(kids.contains(kid), "refresh signing key is a key", text) }
    if config.sessions != nil { check(config.refresh.signingKey != nil, "sessions have a signing key", text) }
    check(config.refresh.ttlMs > config.refresh.windowMs, "refresh ttl longer than window", text)
    check(config.store.stateDir.hasPrefix("/"), "state dir absolute", text)
    for key in config.keys {
        switch key.source {
        case .publicKeyFile(let p), .privateKeyFile(let p), .secretFile(let p), .jwksFile(let p):
            check(p.hasPrefix("/") && fileExists(p), "key file absolute and present", text)
        case .secretEnv(let name):
            check((environment[name]?.utf8.count ?? 0) >= 32, "secret_env set and strong", text)
        case .jwksURL(let url, _, _, _):
            check(url.lowercased().hasPrefix("http"), "jwks_url is http(s)", text)
        }
    }
    for c in config.server.certificates {
        check(c.certificate.hasPrefix("/") && c.privateKey.hasPrefix("/"), "certificate paths absolute", text)
    }
    let summary = config.summary()
    check(summary.hasSuffix("\n"), "summary lines end with a newline", text)
    check(summary.hasPrefix("config: \(configPath)\n"), "summary names the file", text)
    check(!summary.contains(secretValue), "no secret value in the summary", text)
}

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let text = String(decoding: data, as: UTF8.self)
    let first = load(text)
    check(load(text) == first, "deterministic", text)
    switch first {
    case .success(let config): checkConfig(config, text)
    case .failure(let errors): checkErrors(errors, text)
    }
    // Comments change nothing but line numbers. Only texts that parsed as
    // TOML: a syntax error's position may legitimately move at the end.
    if case .failure(let errors) = first, isSyntaxError(errors) { return }
    switch (first, load(text + "\n# appended comment\n")) {
    case (.success(let a), .success(let b)): check(a == b, "appending a comment keeps the config", text)
    case (.failure(let a), .failure(let b)): check(a == b, "appending a comment keeps the errors", text)
    default: check(false, "appending a comment changes acceptance", text)
    }
    // A leading byte-order mark is only allowed at the very start.
    if text.hasPrefix("\u{FEFF}") { return }
    switch (first, load("# prepended comment\n" + text)) {
    case (.success(let a), .success(let b)):
        check(shifted(a, by: 1) == b, "prepending a comment moves config lines by one", text)
    case (.failure(let a), .failure(let b)):
        // Whole-document errors ("no [[routes]]") stay at line 1; the rest move.
        let moved = a.errors.map(\.line).filter { $0 > 1 }.map { $0 + 1 }.sorted()
        check(b.errors.map(\.line).filter { $0 > 2 }.sorted() == moved
              && b.errors.count == a.errors.count, "prepending a comment moves error lines by one", text)
    default: check(false, "prepending a comment changes acceptance", text)
    }
}

FuzzReplay.main { fuzzOne($0) }
