@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A `ByteBufferAllocator` that knows how many of its bytes are alive, so a test can prove that code released the
/// buffers it was handed (a slice keeps its whole storage alive). The hooks are C function pointers, so the record
/// is global: only one test may use it (`MessageAssemblerTests.resetReleases`).
enum LiveBytesAllocator {
    /// The allocator to make buffers with.
    static let allocator = ByteBufferAllocator(
        allocate: { size in
            let pointer = malloc(size)
            liveAllocations.withLock { $0[UInt(bitPattern: pointer)] = Int(size) }
            return pointer
        },
        reallocate: { pointer, _, newSize in
            let moved = realloc(pointer, newSize)
            liveAllocations.withLock { live in
                live[UInt(bitPattern: pointer)] = nil
                live[UInt(bitPattern: moved)] = Int(newSize)
            }
            return moved
        },
        deallocate: { pointer in
            liveAllocations.withLock { $0[UInt(bitPattern: pointer)] = nil }
            free(pointer)
        },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) }
    )

    /// Bytes allocated by ``allocator`` and not yet freed.
    static var liveBytes: Int { liveAllocations.withLock { $0.values.reduce(0, +) } }
}

private let liveAllocations = Mutex<[UInt: Int]>([:])
