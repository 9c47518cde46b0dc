import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The allocator's view of this process's heap (glibc `mallinfo2`; zeros elsewhere), to tell a leak from memory
/// the allocator keeps: live bytes that grow are a leak; RSS that grows while live bytes do not is freed memory
/// glibc holds on to (fragmented arenas, one arena per thread that ever allocated).
struct HeapProbe: Codable, Sendable, Equatable {
    /// Bytes handed out and not yet freed (`uordblks + hblkhd`), across every arena.
    var liveBytes: Int
    /// Bytes the arenas took from the system (`arena`), live or free.
    var arenaBytes: Int
    /// Free bytes inside the arenas, top chunks included (`fordblks`).
    var freeBytes: Int
    /// Arenas (main plus per-thread ones), from `malloc_info`.
    var arenas: Int

    /// Reads the current figures.
    static var now: HeapProbe {
        let info = Self.mallinfo2()
        return HeapProbe(liveBytes: info[7] + info[4], arenaBytes: info[0], freeBytes: info[8], arenas: Self.arenaCount())
    }

    /// `struct mallinfo2`'s ten `size_t` fields, in order (arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks,
    /// uordblks, fordblks, keepcost). Swift's Glibc module does not import `malloc.h`, so the function is looked up
    /// by name; it returns the struct through a hidden pointer (x86-64 System V: the first argument register), which
    /// is what the declared type passes. Other architectures pass that pointer elsewhere: zeros there.
    private static func mallinfo2() -> [Int] {
        var fields = [Int](repeating: 0, count: 10)
        #if canImport(Glibc) && arch(x86_64)
        typealias MallInfo2 = @convention(c) (UnsafeMutablePointer<Int>) -> UnsafeMutablePointer<Int>
        if let symbol = dlsym(nil, "mallinfo2") {
            fields.withUnsafeMutableBufferPointer { _ = unsafeBitCast(symbol, to: MallInfo2.self)($0.baseAddress!) }
        }
        #endif
        return fields
    }

    private static func arenaCount() -> Int {
        #if canImport(Glibc)
        typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
        guard let symbol = dlsym(nil, "malloc_info") else { return 0 }
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        guard let stream = open_memstream(&buffer, &length) else { return 0 }
        _ = unsafeBitCast(symbol, to: MallocInfo.self)(0, stream)
        fclose(stream)
        defer { free(buffer) }
        return (buffer.map { String(cString: $0) } ?? "").components(separatedBy: "<heap nr=").count - 1
        #else
        return 0
        #endif
    }
}
