#if canImport(Glibc)
import Glibc
#endif

/// Why the spool could not do something, naming the file and, for a record, its offset.
public enum SpoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed: which one, on which path, and errno (read right where it failed).
    case system(call: String, path: String, errno: Int32)
    /// Another process (a second Estuary with the same data_dir and output name) holds the spool.
    case locked(path: String)
    /// A short write that could not be completed (the disk is full, or the file was cut).
    case shortWrite(path: String, offset: Int, wrote: Int, of: Int)

    public var description: String {
        switch self {
        case .system(let call, let path, let code):
            return "\(call) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .locked(let path):
            return "\(path) is locked by another process (two Estuary daemons with the same data_dir and output name?)"
        case .shortWrite(let path, let offset, let wrote, let total):
            return "\(path): wrote \(wrote) of \(total) bytes at offset \(offset)"
        }
    }

    /// errno of a failed system call, if that is what this is.
    public var errno: Int32? {
        if case .system(_, _, let code) = self { return code }
        return nil
    }

    static func failed(_ call: String, _ path: String) -> SpoolError {
        .system(call: call, path: path, errno: Glibc.errno)
    }
}

/// An open file descriptor with the few calls the spool makes, each failing with a typed
/// error that names the path. Closed explicitly (`close()`), never by a deinit: the owner
/// decides when.
struct SpoolFile {
    let fd: Int32
    let path: String

    /// Opens (and with `create`, creates) `path` for reading and writing.
    static func open(_ path: String, create: Bool = false, exclusive: Bool = false) throws(SpoolError) -> SpoolFile {
        var flags = O_RDWR | O_CLOEXEC
        if create { flags |= O_CREAT }
        if exclusive { flags |= O_EXCL }
        let fd = Glibc.open(path, flags, 0o644)
        guard fd >= 0 else { throw .failed("open", path) }
        return SpoolFile(fd: fd, path: path)
    }

    func close() {
        _ = Glibc.close(fd)
    }

    /// The file's size in bytes.
    func size() throws(SpoolError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .failed("fstat", path) }
        return Int(st.st_size)
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    func read(count: Int, at offset: Int) throws(SpoolError) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: Int32 = 0
        buffer.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if n > 0 { done += n; continue }
                if n == 0 { break }
                if Glibc.errno == EINTR { continue }
                failure = Glibc.errno
                break
            }
        }
        if failure != 0 { throw .system(call: "pread", path: path, errno: failure) }
        if done < count { buffer.removeSubrange(done...) }
        return buffer
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) throws(SpoolError) {
        var done = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n > 0 { done += n; continue }
                if n < 0, Glibc.errno == EINTR { continue }
                failure = n < 0 ? Glibc.errno : ENOSPC
                break
            }
        }
        if failure != 0 { throw .system(call: "pwrite", path: path, errno: failure) }
    }

    func truncate(to length: Int) throws(SpoolError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .failed("ftruncate", path) }
    }

    /// fdatasync: the data (and the size) on stable storage.
    func sync() throws(SpoolError) {
        guard fdatasync(fd) == 0 else { throw .failed("fdatasync", path) }
    }
}

/// Directory calls the spool makes.
enum SpoolDirectory {
    /// `mkdir -p`.
    static func create(_ path: String) throws(SpoolError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0, Glibc.errno != EEXIST { throw .failed("mkdir", prefix) }
        }
        var st = stat()
        guard stat(path, &st) == 0 else { throw .failed("stat", path) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .system(call: "mkdir", path: path, errno: ENOTDIR) }
    }

    /// The names in a directory (without `.` and `..`).
    static func names(_ path: String) throws(SpoolError) -> [String] {
        guard let dir = opendir(path) else { throw .failed("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// fsync on the directory, so that created, renamed and removed names survive a crash.
    static func sync(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = Glibc.close(fd)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}
