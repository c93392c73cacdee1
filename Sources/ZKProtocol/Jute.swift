import NIOCore

/// A decoding failure of a jute record. Carried to the client as MARSHALLINGERROR.
public struct JuteError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "jute: \(message)" }
}

/// Reads jute primitives (big-endian ints, length-prefixed buffers and strings, -1 = null)
/// from a ByteBuffer. Every read is bounds-checked; a length larger than `maxLength` is an error.
public struct JuteReader {
    public var buffer: ByteBuffer
    public var maxLength: Int

    public init(_ buffer: ByteBuffer, maxLength: Int = 1_048_575 * 2) {
        self.buffer = buffer
        self.maxLength = maxLength
    }

    public var isAtEnd: Bool { buffer.readableBytes == 0 }
    public var remaining: Int { buffer.readableBytes }

    public mutating func readInt() throws -> Int32 {
        guard let v = buffer.readInteger(endianness: .big, as: Int32.self) else { throw JuteError("truncated int") }
        return v
    }
    public mutating func readLong() throws -> Int64 {
        guard let v = buffer.readInteger(endianness: .big, as: Int64.self) else { throw JuteError("truncated long") }
        return v
    }
    public mutating func readBool() throws -> Bool {
        guard let v = buffer.readInteger(as: UInt8.self) else { throw JuteError("truncated boolean") }
        return v != 0
    }
    public mutating func readByte() throws -> UInt8 {
        guard let v = buffer.readInteger(as: UInt8.self) else { throw JuteError("truncated byte") }
        return v
    }
    /// A buffer; nil when the length is -1.
    public mutating func readBuffer() throws -> [UInt8]? {
        let len = try readInt()
        if len == -1 { return nil }
        guard len >= 0, Int(len) <= maxLength else { throw JuteError("bad buffer length \(len)") }
        guard let bytes = buffer.readBytes(length: Int(len)) else { throw JuteError("truncated buffer") }
        return bytes
    }
    public mutating func readString() throws -> String? {
        let len = try readInt()
        if len == -1 { return nil }
        guard len >= 0, Int(len) <= maxLength else { throw JuteError("bad string length \(len)") }
        guard let s = buffer.readString(length: Int(len)) else { throw JuteError("truncated string") }
        return s
    }
    /// A non-null string (null is read as empty, as the Java server does for paths).
    public mutating func readPath() throws -> String { try readString() ?? "" }

    public mutating func readVector<T>(_ element: (inout JuteReader) throws -> T) throws -> [T]? {
        let count = try readInt()
        if count == -1 { return nil }
        guard count >= 0, Int(count) <= maxLength else { throw JuteError("bad vector length \(count)") }
        var out: [T] = []
        out.reserveCapacity(min(Int(count), 1024))
        for _ in 0..<count { out.append(try element(&self)) }
        return out
    }
    public mutating func readStringVector() throws -> [String]? {
        try readVector { try $0.readString() ?? "" }
    }
}

extension ByteBuffer {
    @inlinable public mutating func writeJuteInt(_ v: Int32) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeJuteLong(_ v: Int64) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeJuteBool(_ v: Bool) { writeInteger(v ? 1 : 0, as: UInt8.self) }
    public mutating func writeJuteBuffer(_ v: [UInt8]?) {
        guard let v else { writeJuteInt(-1); return }
        writeJuteInt(Int32(v.count)); writeBytes(v)
    }
    public mutating func writeJuteString(_ v: String?) {
        guard let v else { writeJuteInt(-1); return }
        let utf8 = v.utf8
        writeJuteInt(Int32(utf8.count)); writeBytes(utf8)
    }
    public mutating func writeJuteStrings(_ v: [String]?) {
        guard let v else { writeJuteInt(-1); return }
        writeJuteInt(Int32(v.count))
        for s in v { writeJuteString(s) }
    }
}

/// A value that has a jute encoding.
public protocol JuteEncodable {
    func encode(into buffer: inout ByteBuffer)
}
public protocol JuteDecodable {
    init(from reader: inout JuteReader) throws
}
public typealias JuteRecord = JuteEncodable & JuteDecodable

extension JuteEncodable {
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var b = allocator.buffer(capacity: 64)
        encode(into: &b)
        return b
    }
    public var bytes: [UInt8] {
        var b = encoded()
        return b.readBytes(length: b.readableBytes) ?? []
    }
}
extension JuteDecodable {
    public init(bytes: [UInt8]) throws {
        var r = JuteReader(ByteBuffer(bytes: bytes))
        try self.init(from: &r)
    }
}
