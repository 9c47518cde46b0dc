import NIOCore

/// The eight bytes each side sends first: the magic `DRPC`, the protocol version, and CR LF.
///
/// The CR LF makes a text-protocol client (an HTTP request sent to the wrong port) fail on the magic at once.
public enum Preface {
    /// The protocol version this implementation speaks.
    public static let version: UInt16 = 1
    /// Bytes on the wire taken by the preface.
    public static let size = 8
    /// The magic at the start of every connection, in both directions.
    public static let magic: [UInt8] = [0x44, 0x52, 0x50, 0x43]  // "DRPC"

    /// Writes the preface for `version`.
    public static func write(into buffer: inout ByteBuffer, version: UInt16 = Preface.version) {
        buffer.writeBytes(magic)
        buffer.writeInteger(version, endianness: .big)
        buffer.writeBytes([0x0D, 0x0A])
    }
}
