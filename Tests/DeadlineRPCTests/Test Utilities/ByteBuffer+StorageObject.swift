import NIOCore

extension ByteBuffer {
    /// The object that owns this buffer's bytes, shared by every slice of them: a test holds it weakly to see when
    /// the last slice is gone, or compares two buffers' to see whether one was copied.
    var storageObject: AnyObject {
        self.withUnsafeReadableBytesWithStorageManagement { _, storage in storage.takeUnretainedValue() }
    }
}
