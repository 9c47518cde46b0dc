@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `ByteBufferAllocator`s that record the largest block they hand out, so a test can prove how much memory a piece
/// of code held. Each allocator has its own record, so suites that run in parallel do not disturb each other; a
/// suite that uses one runs its tests serially.
enum TrackingAllocator {
    /// For the compressor's tests.
    static let compression = ByteBufferAllocator(
        allocate: { size in
            record(Int(size), in: largestCompressionAllocation)
            return malloc(size)
        },
        reallocate: { pointer, _, newSize in
            record(Int(newSize), in: largestCompressionAllocation)
            return realloc(pointer, newSize)
        },
        deallocate: { free($0) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) }
    )

    /// For the assembler's tests.
    static let assembly = ByteBufferAllocator(
        allocate: { size in
            record(Int(size), in: largestAssemblyAllocation)
            return malloc(size)
        },
        reallocate: { pointer, _, newSize in
            record(Int(newSize), in: largestAssemblyAllocation)
            return realloc(pointer, newSize)
        },
        deallocate: { free($0) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) }
    )

    /// Forgets what `compression` allocated so far.
    static func resetCompression() { largestCompressionAllocation.store(0, ordering: .relaxed) }
    /// The largest block `compression` handed out since the last reset.
    static var largestCompression: Int { largestCompressionAllocation.load(ordering: .relaxed) }

    /// Forgets what `assembly` allocated so far.
    static func resetAssembly() { largestAssemblyAllocation.store(0, ordering: .relaxed) }
    /// The largest block `assembly` handed out since the last reset.
    static var largestAssembly: Int { largestAssemblyAllocation.load(ordering: .relaxed) }
}

private let largestCompressionAllocation = Atomic<Int>(0)
private let largestAssemblyAllocation = Atomic<Int>(0)

private func record(_ size: Int, in largest: borrowing Atomic<Int>) {
    var current = largest.load(ordering: .relaxed)
    while size > current {
        let (exchanged, original) = largest.compareExchange(expected: current, desired: size, ordering: .relaxed)
        if exchanged { return }
        current = original
    }
}
