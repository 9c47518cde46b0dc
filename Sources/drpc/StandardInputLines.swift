import Foundation

/// Standard input's lines as an async sequence, read on a thread of its own: `readLine()` blocks, and a blocked
/// cooperative thread would stall the responses of a bidirectional call on a two-core machine.
enum StandardInputLines {
    /// The non-empty lines of standard input, until end of file.
    static func lines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .unbounded)
        // The thread ends at end of file; drpc exits soon after the call ends whether or not the thread has.
        Thread.detachNewThread {
            while let line = readLine(strippingNewline: true) {
                if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
                continuation.yield(line)
            }
            continuation.finish()
        }
        return stream
    }
}
