import Glibc

/// A failed system call on a named file: "write state/state.log: No space left on device".
struct FileError: Error, CustomStringConvertible {
    var operation: String
    var path: String
    var code: Int32

    var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// The writes the log makes after opening. A protocol so a test can make
/// them fail (ENOSPC, EIO) and count fsyncs; `PosixLogFile` is the real one.
protocol LogFileIO: AnyObject {
    /// Appends all of `bytes` at the end of the file, or throws.
    func append(_ bytes: [UInt8]) throws(FileError)
    /// fdatasync: the appended bytes survive a crash once it returns.
    func sync() throws(FileError)
    /// Cuts the file back to `size` bytes (undoing a failed batch).
    func truncate(to size: Int) throws(FileError)
    func close()
}

/// The log file opened for appending (O_APPEND, so after a truncate the
/// next write lands at the new end).
final class PosixLogFile: LogFileIO {
    let path: String
    private var fd: Int32

    /// Opens `path` for appending; with `create`, makes it empty first.
    init(path: String, create: Bool) throws(FileError) {
        self.path = path
        let flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0)
        fd = Glibc.open(path, flags, 0o600)
        if fd < 0 { throw FileError(operation: "open", path: path, code: errno) }
    }

    deinit { close() }

    func append(_ bytes: [UInt8]) throws(FileError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Glibc.write(fd, buf.baseAddress.map { $0 + done }, buf.count - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "write", path: path, code: errno)
            }
            done += n
        }
    }

    func sync() throws(FileError) {
        while fdatasync(fd) != 0 {
            if errno != EINTR { throw FileError(operation: "fdatasync", path: path, code: errno) }
        }
    }

    func truncate(to size: Int) throws(FileError) {
        if ftruncate(fd, off_t(size)) != 0 { throw FileError(operation: "ftruncate", path: path, code: errno) }
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }
}

/// The other file system calls of the store: reading the log once, the
/// directory, renames. Not injected: only appends and syncs fail in tests.
enum PosixFiles {
    /// Creates `path` (one level) unless it exists as a directory.
    static func makeDirectory(_ path: String) throws(FileError) {
        if mkdir(path, 0o700) == 0 { return }
        let code = errno
        var st = stat()
        if code == EEXIST, stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return }
        throw FileError(operation: "mkdir", path: path, code: code == EEXIST ? ENOTDIR : code)
    }

    /// The size of `path`, or nil when it does not exist.
    static func size(_ path: String) throws(FileError) -> Int? {
        var st = stat()
        if stat(path, &st) == 0 { return Int(st.st_size) }
        if errno == ENOENT { return nil }
        throw FileError(operation: "stat", path: path, code: errno)
    }

    static func remove(_ path: String) {
        _ = unlink(path)
    }

    static func rename(_ from: String, _ to: String) throws(FileError) {
        if Glibc.rename(from, to) != 0 { throw FileError(operation: "rename", path: from, code: errno) }
    }

    /// fsync on the directory: makes a rename or a new file's name durable.
    static func syncDirectory(_ path: String) throws(FileError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw FileError(operation: "open", path: path, code: errno) }
        defer { _ = close(fd) }
        if fsync(fd) != 0 { throw FileError(operation: "fsync", path: path, code: errno) }
    }

    /// Writes `bytes` as the whole of `path` through a temporary file,
    /// fsynced and renamed over it: `path` is either the old file or the
    /// new one, never half of one. Returns the new file open for appending.
    /// The caller fsyncs the directory next (once it has switched to the
    /// new file: after the rename, the old one is no longer `path`).
    static func replaceAtomically(_ path: String, with bytes: [UInt8],
                                  opening: (PosixLogFile) -> any LogFileIO) throws(FileError) -> any LogFileIO {
        let tmp = path + ".tmp"
        let raw = try PosixLogFile(path: tmp, create: true)
        let file = opening(raw)
        do throws(FileError) {
            try file.append(bytes)
            try file.sync()
            try rename(tmp, path)
        } catch {
            file.close()
            remove(tmp)
            throw error
        }
        return file
    }
}

/// Reads a file front to back in large chunks (one `read` per chunk, one
/// buffer reused), so replay costs a few system calls per megabyte.
final class ChunkedFileReader {
    let path: String
    private var fd: Int32

    init(path: String) throws(FileError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileError(operation: "open", path: path, code: errno) }
    }

    deinit { if fd >= 0 { _ = close(fd) } }

    /// Fills `buffer[from..<buffer.count]` as far as the file goes; returns
    /// the count read (less only at EOF).
    func fill(_ buffer: inout [UInt8], from: Int) throws(FileError) -> Int {
        var at = from
        while at < buffer.count {
            let n = buffer.withUnsafeMutableBytes { buf in
                read(fd, buf.baseAddress.map { $0 + at }, buf.count - at)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "read", path: path, code: errno)
            }
            if n == 0 { break }
            at += n
        }
        return at - from
    }
}
