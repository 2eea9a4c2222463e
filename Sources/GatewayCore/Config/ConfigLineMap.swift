/// A position in a TOML document: table keys and array indices from the root.
/// `[[routes]]` occurrence 2, key `upstream` is `[.key("routes"), .index(2), .key("upstream")]`.
struct TOMLPath: Hashable, CustomStringConvertible {
    enum Component: Hashable {
        case key(String)
        case index(Int)
    }

    var components: [Component]

    init(_ components: [Component] = []) { self.components = components }

    static let root = TOMLPath()

    func appending(_ key: String) -> TOMLPath { TOMLPath(components + [.key(key)]) }
    func appending(index: Int) -> TOMLPath { TOMLPath(components + [.index(index)]) }
    var parent: TOMLPath? { components.isEmpty ? nil : TOMLPath(Array(components.dropLast())) }

    /// `routes[2].upstream`, `upstreams.app.servers`; keys that are not bare are quoted.
    var description: String {
        var out = ""
        for component in components {
            switch component {
            case .index(let i): out += "[\(i)]"
            case .key(let k):
                if !out.isEmpty { out += "." }
                let bare = !k.isEmpty && k.utf8.allSatisfy(ConfigLineMap.isBareKeyByte)
                out += bare ? k : "\"\(k)\""
            }
        }
        return out
    }
}

/// Line numbers for the tables and keys of a TOML text that toml++ already
/// accepted. toml++ (through TOMLKit) keeps no source positions for nodes and
/// keeps table keys sorted, so this scanner recovers both: the line of every
/// table header and `key =`, and the order in which keys first appear.
///
/// It understands what affects positions: comments, the four string forms
/// (multi-line ones span lines), arrays spanning lines, inline tables,
/// dotted and quoted keys, `[table]` and `[[array.of.tables]]` headers
/// (indices counted per parent instance). It never fails: on text it does
/// not understand it skips ahead, and lookups fall back to the nearest
/// ancestor that was found, then to line 1.
struct ConfigLineMap {
    private var lines: [TOMLPath: Int] = [:]
    /// Lines of tables only mentioned as a prefix (`upstreams` in
    /// `[upstreams.app]`); used only when no explicit line exists.
    private var implicitLines: [TOMLPath: Int] = [:]
    private var childOrder: [TOMLPath: [String]] = [:]
    /// The first place where toml++ 3 would assert instead of reporting an
    /// error (abort in debug builds, undefined behaviour with NDEBUG), so
    /// the loader refuses such text before toml++ sees it: a table header
    /// whose name starts with no key character (`[*]`, `[\n`, `[[[`), and
    /// an array element that starts with `}` or a Unicode line break.
    private(set) var unparsable: (line: Int, message: String)?

    init(text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.run()
        lines = scanner.lines
        implicitLines = scanner.implicitLines
        childOrder = scanner.childOrder
        unparsable = scanner.unparsable
    }

    /// Line of `path`, or of its nearest ancestor that appears in the text;
    /// 1 when nothing does.
    func line(_ path: TOMLPath) -> Int {
        var current: TOMLPath? = path
        while let p = current {
            if let l = lines[p] ?? implicitLines[p] { return l }
            current = p.parent
        }
        return 1
    }

    /// Line of `path` itself, if the text names it.
    func exactLine(_ path: TOMLPath) -> Int? { lines[path] ?? implicitLines[path] }

    /// Keys of the table at `path` in order of first appearance in the text.
    func keysInOrder(_ path: TOMLPath) -> [String] { childOrder[path] ?? [] }

    static func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) || b == 0x2D || b == 0x5F
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        var line = 1
        var lines: [TOMLPath: Int] = [:]
        var implicitLines: [TOMLPath: Int] = [:]
        var childOrder: [TOMLPath: [String]] = [:]
        /// Arrays of tables seen so far and their element count.
        var arrayCounts: [TOMLPath: Int] = [:]
        var current = TOMLPath.root
        var unparsable: (line: Int, message: String)?

        init(bytes: [UInt8]) {
            self.bytes = bytes
            // A UTF-8 byte-order mark may open the file; toml++ skips it too.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        }

        var atEnd: Bool { i >= bytes.count }
        func peek(_ offset: Int = 0) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

        mutating func advance() {
            if bytes[i] == 0x0A { line += 1 }
            i += 1
        }

        mutating func run() {
            while !atEnd {
                skipBlank(newlines: true)
                guard let b = peek() else { break }
                let start = i
                if b == 0x5B { // [
                    header()
                } else if b == 0x5D || b == 0x3D || b == 0x2C { // stray ] = ,: cannot happen in valid TOML
                    advance()
                } else {
                    keyValue(in: current)
                }
                skipToLineEnd()
                if i == start { advance() }
            }
        }

        /// Spaces, tabs, CR, comments; and newlines when `newlines`.
        mutating func skipBlank(newlines: Bool) {
            while let b = peek() {
                if b == 0x20 || b == 0x09 || b == 0x0D { advance() }
                else if b == 0x0A && newlines { advance() }
                else if b == 0x23 { while let c = peek(), c != 0x0A { _ = c; advance() } }
                else { break }
            }
        }

        mutating func skipToLineEnd() {
            while let b = peek(), b != 0x0A { _ = b; advance() }
        }

        mutating func header() {
            let headerLine = line
            if unparsable == nil && !headerNameStartsWell() {
                unparsable = (headerLine, "expected a table name (a bare or quoted key) after \"[\"")
            }
            advance() // [
            let isArray = peek() == 0x5B
            if isArray { advance() }
            skipBlank(newlines: false)
            let keys = dottedKey()
            if keys.isEmpty { return }
            // Resolve through arrays of tables: `[routes.x]` after `[[routes]]`
            // belongs to the last routes element.
            var path = TOMLPath.root
            for (n, key) in keys.enumerated() {
                noteChild(of: path, key)
                path = path.appending(key)
                let isLast = n == keys.count - 1
                if isLast && isArray {
                    let count = arrayCounts[path] ?? 0
                    arrayCounts[path] = count + 1
                    if lines[path] == nil { lines[path] = headerLine }
                    path = path.appending(index: count)
                } else if let count = arrayCounts[path], count > 0 {
                    path = path.appending(index: count - 1)
                }
                if isLast { lines[path] = headerLine }
                else if implicitLines[path] == nil { implicitLines[path] = headerLine }
            }
            current = path
        }

        /// What toml++'s parse_table_header lets reach parse_key must start a
        /// key: after `[` (or `[[`) and spaces or tabs, a bare key byte or a
        /// quote. End of text, `]` and `[ [` it reports itself.
        func headerNameStartsWell() -> Bool {
            var j = i + 1
            func skipSpaces() -> Bool {
                let start = j
                while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09) { j += 1 }
                return j > start
            }
            let spaced = skipSpaces()
            if j < bytes.count && bytes[j] == 0x5B {
                if spaced { return true }
                j += 1
                _ = skipSpaces()
            }
            guard j < bytes.count else { return true }
            let b = bytes[j]
            return b == 0x5D || b == 0x22 || b == 0x27 || ConfigLineMap.isBareKeyByte(b)
        }

        /// U+0085, U+2028 or U+2029 in UTF-8: toml++ counts them as value
        /// terminators but not as line breaks.
        func startsUnicodeLineBreak() -> Bool {
            (peek() == 0xC2 && peek(1) == 0x85)
                || (peek() == 0xE2 && peek(1) == 0x80 && (peek(2) == 0xA8 || peek(2) == 0xA9))
        }

        mutating func noteChild(of path: TOMLPath, _ key: String) {
            if childOrder[path]?.contains(key) == true { return }
            childOrder[path, default: []].append(key)
        }

        /// `a.b."c d"` with optional blanks around dots; empty on malformed text.
        mutating func dottedKey() -> [String] {
            var keys: [String] = []
            while true {
                skipBlank(newlines: false)
                guard let key = simpleKey() else { return keys }
                keys.append(key)
                skipBlank(newlines: false)
                if peek() == 0x2E { advance() } else { return keys }
            }
        }

        mutating func simpleKey() -> String? {
            guard let b = peek() else { return nil }
            if b == 0x22 { return basicString() }
            if b == 0x27 { return literalString() }
            let start = i
            while let c = peek(), ConfigLineMap.isBareKeyByte(c) { advance() }
            return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
        }

        mutating func keyValue(in table: TOMLPath) {
            let keyLine = line
            let keys = dottedKey()
            if keys.isEmpty { return }
            var path = table
            for (n, key) in keys.enumerated() {
                noteChild(of: path, key)
                path = path.appending(key)
                if n < keys.count - 1, implicitLines[path] == nil { implicitLines[path] = keyLine }
            }
            if lines[path] == nil { lines[path] = keyLine }
            skipBlank(newlines: false)
            guard peek() == 0x3D else { return } // =
            advance()
            skipBlank(newlines: false)
            value(at: path)
        }

        mutating func value(at path: TOMLPath) {
            guard let b = peek() else { return }
            switch b {
            case 0x22: _ = basicString()
            case 0x27: _ = literalString()
            case 0x5B: array(at: path)
            case 0x7B: inlineTable(at: path)
            default:
                // Numbers, booleans, dates (which may hold one space).
                while let c = peek(), c != 0x2C, c != 0x5D, c != 0x7D, c != 0x23, c != 0x0A { _ = c; advance() }
            }
        }

        mutating func array(at path: TOMLPath) {
            advance() // [
            var index = 0
            while true {
                skipBlank(newlines: true)
                guard let b = peek() else { return }
                if b == 0x5D { advance(); return }
                if b == 0x2C { advance(); continue }
                if unparsable == nil && (b == 0x7D || startsUnicodeLineBreak()) {
                    unparsable = (line, "expected a value, \",\" or \"]\" in an array")
                }
                let element = path.appending(index: index)
                if lines[element] == nil { lines[element] = line }
                let start = i
                value(at: element)
                if i == start { advance() }
                index += 1
            }
        }

        mutating func inlineTable(at path: TOMLPath) {
            advance() // {
            while true {
                skipBlank(newlines: true)
                guard let b = peek() else { return }
                if b == 0x7D { advance(); return }
                if b == 0x2C { advance(); continue }
                let start = i
                keyValue(in: path)
                if i == start { advance() }
            }
        }

        /// A `"..."` or `"""..."""` string; returns its decoded text (for keys).
        mutating func basicString() -> String {
            let multi = peek(1) == 0x22 && peek(2) == 0x22
            advance()
            if multi { advance(); advance() }
            var out: [UInt8] = []
            while let b = peek() {
                if b == 0x5C { // backslash escape
                    advance()
                    guard let e = peek() else { break }
                    advance()
                    switch e {
                    case 0x6E: out.append(0x0A)
                    case 0x74: out.append(0x09)
                    case 0x72: out.append(0x0D)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x75, 0x55: // \uXXXX, \UXXXXXXXX
                        let n = e == 0x75 ? 4 : 8
                        var value: UInt32 = 0
                        for _ in 0..<n {
                            guard let h = peek(), let d = hexValue(h) else { break }
                            value = value << 4 | d
                            advance()
                        }
                        if let scalar = Unicode.Scalar(value) { out.append(contentsOf: Array(String(scalar).utf8)) }
                    default: out.append(e) // \" \\ and, in multi-line strings, line-ending backslash
                    }
                    continue
                }
                if b == 0x22 {
                    if !multi { advance(); break }
                    if peek(1) == 0x22 && peek(2) == 0x22 {
                        advance(); advance(); advance()
                        // Up to two extra quotes may close a multi-line string.
                        while peek() == 0x22 { advance() }
                        break
                    }
                }
                if b == 0x0A && !multi { break }
                out.append(b)
                advance()
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// A `'...'` or `'''...'''` string, taken raw.
        mutating func literalString() -> String {
            let multi = peek(1) == 0x27 && peek(2) == 0x27
            advance()
            if multi { advance(); advance() }
            let start = i
            var end = i
            while let b = peek() {
                if b == 0x27 {
                    if !multi { end = i; advance(); break }
                    if peek(1) == 0x27 && peek(2) == 0x27 {
                        end = i
                        advance(); advance(); advance()
                        while peek() == 0x27 { advance() }
                        break
                    }
                }
                if b == 0x0A && !multi { end = i; break }
                advance()
                end = i
            }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }

        func hexValue(_ b: UInt8) -> UInt32? {
            if b >= 0x30 && b <= 0x39 { return UInt32(b - 0x30) }
            let l = b | 0x20
            if l >= 0x61 && l <= 0x66 { return UInt32(l - 0x61 + 10) }
            return nil
        }
    }
}
