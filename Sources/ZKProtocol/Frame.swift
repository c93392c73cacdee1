import NIOCore

/// Limits of the client protocol.
public enum ProtocolLimits {
    /// Apache ZooKeeper's default `jute.maxbuffer`: the largest frame either side accepts.
    public static let defaultMaxFrameBytes = 0xfffff
}

/// Splits a byte stream into length-prefixed frames (int32 big-endian length, then payload).
/// A negative length or one above `maxFrameBytes` is a protocol violation: the caller closes the connection.
public struct FrameSplitter {
    public enum Outcome: Equatable {
        case frame(ByteBuffer)
        case needMoreData
        case invalidLength(Int32)
    }
    public var maxFrameBytes: Int
    public init(maxFrameBytes: Int = ProtocolLimits.defaultMaxFrameBytes) { self.maxFrameBytes = maxFrameBytes }

    public func next(_ buffer: inout ByteBuffer) -> Outcome {
        guard let len = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return .needMoreData }
        guard len >= 0, Int(len) <= maxFrameBytes else { return .invalidLength(len) }
        guard buffer.readableBytes >= 4 + Int(len) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        return .frame(buffer.readSlice(length: Int(len))!)
    }
}

extension ByteBuffer {
    /// Writes `body` framed: reserves the length, lets `body` write, then fills the length in.
    public mutating func writeFramed(_ body: (inout ByteBuffer) -> Void) {
        let lengthIndex = writerIndex
        writeInteger(Int32(0))
        let start = writerIndex
        body(&self)
        setInteger(Int32(writerIndex - start), at: lengthIndex, endianness: .big)
    }
}
