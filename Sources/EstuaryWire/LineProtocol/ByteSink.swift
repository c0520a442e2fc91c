/// Where encoders write bytes: `[UInt8]` for convenience, `ByteBuffer` on hot paths.
/// Encoders are generic over it, so each use is specialized and inlined.
public protocol ByteSink {
    var byteCount: Int { get }
    mutating func appendByte(_ byte: UInt8)
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>)
    /// Drops everything after the first `count` bytes.
    mutating func truncate(to count: Int)
    /// A hint that `count` more bytes are coming.
    mutating func reserveBytes(_ count: Int)
}

extension ByteSink {
    @inlinable @inline(__always)
    public mutating func appendBytes(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { appendBytes($0) }
    }

    @inline(__always)
    public mutating func appendString(_ text: String) {
        var text = text
        text.withUTF8 { appendBytes($0) }
    }
}

extension Array: ByteSink where Element == UInt8 {
    @inlinable
    public var byteCount: Int { count }

    @inlinable @inline(__always)
    public mutating func appendByte(_ byte: UInt8) { append(byte) }

    @inlinable @inline(__always)
    public mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) { append(contentsOf: bytes) }

    @inlinable @inline(__always)
    public mutating func truncate(to count: Int) {
        if count < self.count { removeSubrange(count...) }
    }

    @inlinable @inline(__always)
    public mutating func reserveBytes(_ count: Int) { reserveCapacity(self.count + count) }
}

/// A growable byte buffer for writing line protocol on the hot path: an append is a
/// capacity check and a copy, without the copy-on-write checks of an array. It is a class,
/// owned by one thread at a time (the receiver that fills it, then the one it is handed to).
///
/// Its state lives behind a constant pointer rather than in stored `var`s, so appends pay
/// no run-time exclusivity check.
public final class ByteBuffer: ByteSink {
    @usableFromInline
    struct Header {
        @usableFromInline var storage: UnsafeMutablePointer<UInt8>
        @usableFromInline var count: Int
        @usableFromInline var capacity: Int

        @usableFromInline
        init(storage: UnsafeMutablePointer<UInt8>, count: Int, capacity: Int) {
            self.storage = storage
            self.count = count
            self.capacity = capacity
        }
    }

    // Inlinable appends (other modules write line protocol into these on their hot paths).
    @usableFromInline
    let header: UnsafeMutablePointer<Header>

    public init(capacity: Int = 64 * 1024) {
        let capacity = max(capacity, 16)
        header = .allocate(capacity: 1)
        header.initialize(to: Header(storage: .allocate(capacity: capacity), count: 0, capacity: capacity))
    }

    deinit {
        header.pointee.storage.deallocate()
        header.deinitialize(count: 1)
        header.deallocate()
    }

    /// The number of bytes written.
    public var count: Int { header.pointee.count }

    public var byteCount: Int { header.pointee.count }

    @inlinable @inline(__always)
    public func appendByte(_ byte: UInt8) {
        let count = header.pointee.count
        if count == header.pointee.capacity { grow(to: count + 1) }
        header.pointee.storage[count] = byte
        header.pointee.count = count + 1
    }

    @inlinable @inline(__always)
    public func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        if n == 0 { return }
        let count = header.pointee.count
        if count + n > header.pointee.capacity { grow(to: count + n) }
        (header.pointee.storage + count).update(from: bytes.baseAddress!, count: n)
        header.pointee.count = count + n
    }

    @inline(__always)
    public func truncate(to count: Int) {
        if count < header.pointee.count { header.pointee.count = max(count, 0) }
    }

    @inlinable @inline(__always)
    public func reserveBytes(_ count: Int) {
        let needed = header.pointee.count + count
        if needed > header.pointee.capacity { grow(to: needed) }
    }

    /// Forgets the contents, keeping the memory.
    public func removeAll() { header.pointee.count = 0 }

    /// Whether the bytes equal `other`'s.
    public func hasSameBytes(as bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = header.pointee.count
        return count == bytes.count && (count == 0 || memoryEqual(header.pointee.storage, bytes.baseAddress!, count))
    }

    /// Calls `body` with the bytes written so far.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: header.pointee.storage, count: header.pointee.count))
    }

    /// The bytes written so far, valid until the next write.
    @inline(__always)
    public var unsafeBytes: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: header.pointee.storage, count: header.pointee.count)
    }

    /// A copy of the bytes written so far.
    public var bytes: [UInt8] { Array(unsafeBytes) }

    @usableFromInline
    func grow(to needed: Int) {
        var newCapacity = header.pointee.capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: header.pointee.storage, count: header.pointee.count)
        header.pointee.storage.deallocate()
        header.pointee.storage = newStorage
        header.pointee.capacity = newCapacity
    }
}

extension ByteSink {
    /// Appends another buffer's bytes.
    @inline(__always)
    public mutating func appendBuffer(_ other: ByteBuffer) {
        appendBytes(other.unsafeBytes)
    }
}
