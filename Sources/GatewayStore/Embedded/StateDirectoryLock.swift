import Glibc
import Synchronization

/// `state_dir/lock`, held with flock(LOCK_EX|LOCK_NB) for the store's life
/// so two gateway processes never append to one log. flock locks belong to
/// the open file description, so a second open in the same process
/// conflicts too. The holder's pid is written into the file for the
/// message the loser prints.
final class StateDirectoryLock: Sendable {
    let path: String
    /// The open lock file; -1 once released.
    private let handle: Mutex<Int32>

    /// Takes the lock or throws `.open` naming the directory and the holder.
    init(directory: String) throws(StoreError) {
        path = directory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            throw .open(FileError(operation: "open", path: path, code: errno).description)
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let holder = Self.readPID(fd)
            _ = close(fd)
            if code == EWOULDBLOCK {
                throw .open("state_dir \(directory) is in use by another gateway process (pid \(holder.map(String.init) ?? "unknown"))")
            }
            throw .open(FileError(operation: "flock", path: path, code: code).description)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        handle = Mutex(fd)
    }

    deinit { release() }

    /// Drops the lock (closing the file releases it). Idempotent.
    func release() {
        handle.withLock { fd in
            if fd >= 0 { _ = close(fd); fd = -1 }
        }
    }

    private static func readPID(_ fd: Int32) -> Int? {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        return Int(text.filter { $0.isNumber })
    }
}
