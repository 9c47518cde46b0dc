import NIOCore
import Synchronization
import Testing
import Wire

@testable import DeadlineRPC

/// A task executor the test drives by hand: a task preferring it runs only inside `runUntilIdle()`, so a test knows
/// exactly when a consumer has parked in `next()`, with no sleeps and no races.
private final class ManualTaskExecutor: TaskExecutor, Sendable {
    private let jobs = Mutex<[UnownedJob]>([])

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.jobs.withLock { $0.append(job) }
    }

    var pendingJobs: Int { self.jobs.withLock { $0.count } }

    /// Runs jobs until none is left: every task on this executor has finished or is suspended.
    func runUntilIdle() {
        while let job = self.jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// Records the sizes `onConsume` reports.
private final class ConsumeLog: Sendable {
    private let sizes = Mutex<[Int]>([])
    var recorded: [Int] { self.sizes.withLock { $0 } }
    func record(_ size: Int) { self.sizes.withLock { $0.append(size) } }
}

@Suite("InboundMessageQueue: FIFO, end, failure, flow-control callback and cancellation", .timeLimit(.minutes(5)))
struct InboundMessageQueueTests {
    static func message(_ size: Int, seed: UInt8 = 0) -> ByteBuffer {
        ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0) &+ seed })
    }

    static let failure = RPCError(code: .resourceExhausted, message: "A request message was too large.")

    /// Starts a consumer reading one message on `executor` and runs it until it parks (or finishes).
    private static func startConsumer(_ queue: InboundMessageQueue, on executor: ManualTaskExecutor) -> Task<ByteBuffer?, any Error> {
        let task = Task(executorPreference: executor) { try await queue.next() }
        executor.runUntilIdle()
        return task
    }

    @Test("messages come out in the order they went in")
    func fifo() async throws {
        let queue = InboundMessageQueue()
        let sent = (0..<200).map { Self.message($0 % 17, seed: UInt8($0)) }
        for message in sent { queue.enqueue(message) }
        for expected in sent {
            #expect(try await queue.next() == expected)
        }
        queue.finish()
        #expect(try await queue.next() == nil)
    }

    @Test("finish(nil) ends the stream after the buffered messages, and stays ended")
    func finishAfterBuffered() async throws {
        let queue = InboundMessageQueue()
        for seed: UInt8 in 1...3 { queue.enqueue(Self.message(5, seed: seed)) }
        queue.finish()
        for seed: UInt8 in 1...3 {
            #expect(try await queue.next() == Self.message(5, seed: seed))
        }
        #expect(try await queue.next() == nil)
        #expect(try await queue.next() == nil)
    }

    @Test("finish(error) throws at once, dropping the buffered messages, and keeps throwing")
    func finishWithError() async throws {
        let queue = InboundMessageQueue()
        for seed: UInt8 in 1...3 { queue.enqueue(Self.message(5, seed: seed)) }
        queue.finish(Self.failure)
        for _ in 0..<2 {
            let error = await #expect(throws: RPCError.self) { try await queue.next() }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message == Self.failure.message)
        }
    }

    @Test("the first finish wins; later ones and later messages are ignored")
    func firstFinishWins() async throws {
        let ended = InboundMessageQueue()
        ended.enqueue(Self.message(3))
        ended.finish()
        ended.finish(Self.failure)
        ended.enqueue(Self.message(4))
        #expect(try await ended.next() == Self.message(3))
        #expect(try await ended.next() == nil)

        let failed = InboundMessageQueue()
        failed.finish(Self.failure)
        failed.finish()
        failed.enqueue(Self.message(4))
        await #expect(throws: RPCError.self) { try await failed.next() }
    }

    @Test("onConsume reports each message's size when it is consumed, not when it arrives")
    func onConsumeSizes() async throws {
        let log = ConsumeLog()
        let queue = InboundMessageQueue(onConsume: { log.record($0) })
        let sizes = [0, 1, 7, 1_000, 65_536]
        for size in sizes { queue.enqueue(Self.message(size)) }
        #expect(log.recorded.isEmpty)
        for (index, size) in sizes.enumerated() {
            #expect(try await queue.next()?.readableBytes == size)
            #expect(log.recorded == Array(sizes[...index]))
        }
        queue.finish()
        #expect(try await queue.next() == nil)
        #expect(log.recorded == sizes)  // the end consumes nothing
    }

    @Test("setOnConsume installs the callback later")
    func setOnConsume() async throws {
        let log = ConsumeLog()
        let queue = InboundMessageQueue()
        queue.setOnConsume { log.record($0) }
        queue.enqueue(Self.message(12))
        _ = try await queue.next()
        #expect(log.recorded == [12])
    }

    @Test("a waiting consumer is resumed by enqueue, and the size is reported at hand-over")
    func waiterResumedByEnqueue() async throws {
        let executor = ManualTaskExecutor()
        let log = ConsumeLog()
        let queue = InboundMessageQueue(onConsume: { log.record($0) })
        for round in 0..<3 {
            let consumer = Self.startConsumer(queue, on: executor)
            #expect(executor.pendingJobs == 0)  // parked in next()
            queue.enqueue(Self.message(33 + round))
            // Handed straight to the waiter: consumed (and reported) inside enqueue, nothing buffered.
            #expect(log.recorded.last == 33 + round)
            #expect(log.recorded.count == round + 1)
            executor.runUntilIdle()
            #expect(try await consumer.value == Self.message(33 + round))
        }
    }

    @Test("a waiting consumer is resumed by finish: nil at the end, the error on failure")
    func waiterResumedByFinish() async throws {
        let executor = ManualTaskExecutor()

        let ending = InboundMessageQueue()
        let reader = Self.startConsumer(ending, on: executor)
        ending.finish()
        executor.runUntilIdle()
        #expect(try await reader.value == nil)

        let failing = InboundMessageQueue()
        let failed = Self.startConsumer(failing, on: executor)
        failing.finish(Self.failure)
        executor.runUntilIdle()
        let error = await #expect(throws: RPCError.self) { try await failed.value }
        #expect(error?.code == .resourceExhausted)
    }

    @Test("cancelling a consumer parked in next() makes it throw RPCError(.cancelled)")
    func cancelWhileWaiting() async throws {
        let executor = ManualTaskExecutor()
        let queue = InboundMessageQueue()
        let consumer = Self.startConsumer(queue, on: executor)
        #expect(executor.pendingJobs == 0)
        consumer.cancel()
        executor.runUntilIdle()
        let error = await #expect(throws: RPCError.self) { try await consumer.value }
        #expect(error?.code == .cancelled)
        #expect(error?.cancelReason == .cancelled)

        // The cancelled reader took nothing: a message that arrives later is kept for the next read.
        queue.enqueue(Self.message(9))
        #expect(try await queue.next() == Self.message(9))
    }

    @Test("a consumer cancelled before it reads throws RPCError(.cancelled) instead of waiting")
    func cancelBeforeReading() async throws {
        let executor = ManualTaskExecutor()
        let queue = InboundMessageQueue()
        let consumer = Task(executorPreference: executor) { try await queue.next() }
        consumer.cancel()
        executor.runUntilIdle()
        let error = await #expect(throws: RPCError.self) { try await consumer.value }
        #expect(error?.code == .cancelled)
        #expect(error?.cancelReason == .cancelled)
    }

    @Test("a consumer on another thread gets every message in order while the producer races it")
    func concurrentProducer() async throws {
        let queue = InboundMessageQueue()
        let count = 10_000
        let consumer = Task {
            var received: [UInt8] = []
            while let message = try await queue.next() {
                received.append(message.getInteger(at: message.readerIndex, as: UInt8.self) ?? 0)
            }
            return received
        }
        for index in 0..<count {
            queue.enqueue(ByteBuffer(bytes: [UInt8(truncatingIfNeeded: index)]))
            if index % 100 == 0 { await Task.yield() }
        }
        queue.finish()
        let received = try await consumer.value
        #expect(received == (0..<count).map { UInt8(truncatingIfNeeded: $0) })
    }
}

/// What a queued message keeps of the receive read it was sliced from: a slice pins the whole read, so a queue that
/// holds slices of many reads would hold many reads for a window of credit.
@Suite("InboundMessageQueue: a message that waits keeps nothing of a much bigger read", .timeLimit(.minutes(5)))
struct InboundMessageQueueReadReleaseTests {
    /// A 64 KiB "receive read" and a small message sliced out of it, as the frame decoder hands messages over.
    static func read() -> ByteBuffer {
        var read = ByteBufferAllocator().buffer(capacity: 65_536)
        read.writeBytes((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        return read
    }

    /// Whether two buffers share one storage (compared outside `#expect`, whose expansion of `===` on `AnyObject`
    /// crashes Swift 6.3.1's SILGen).
    static func sameStorage(_ a: ByteBuffer, _ b: ByteBuffer) -> Bool {
        ObjectIdentifier(a.storageObject) == ObjectIdentifier(b.storageObject)
    }

    @Test("A small message that waits in the queue is copied out of its read: the read is freed while the message waits, and the message comes out byte for byte")
    func waitingSliceFreesItsRead() async throws {
        let queue = InboundMessageQueue()
        weak var readStorage: AnyObject?
        var expected = ByteBuffer()
        do {
            let read = Self.read()
            let message = read.getSlice(at: 1_000, length: 64)!
            expected = ByteBuffer(bytes: Array(message.readableBytesView))
            readStorage = read.storageObject
            queue.enqueue(message)
        }
        #expect(readStorage == nil)
        let received = try await queue.next()
        #expect(received == expected)
        #expect(received!.storageCapacity < 2 * 64)
    }

    @Test("A message handed straight to a parked reader is the slice itself, not a copy")
    func waiterGetsTheSlice() async throws {
        let executor = ManualTaskExecutor()
        let queue = InboundMessageQueue()
        let consumer = Task(executorPreference: executor) { try await queue.next() }
        executor.runUntilIdle()
        let read = Self.read()
        queue.enqueue(read.getSlice(at: 1_000, length: 64)!)
        executor.runUntilIdle()
        let received = try #require(try await consumer.value)
        #expect(Self.sameStorage(received, read))
    }

    @Test("A waiting message over the copy limit is kept as it is, even as a small share of its storage: the copy would run on the event loop")
    func largeMessageIsNotCopied() async throws {
        let queue = InboundMessageQueue()
        var big = ByteBufferAllocator().buffer(capacity: 8 * InboundMessageQueue.compactionLimit)
        big.writeRepeatingByte(0x5A, count: 8 * InboundMessageQueue.compactionLimit)
        let message = big.getSlice(at: 0, length: InboundMessageQueue.compactionLimit + 1)!
        queue.enqueue(message)
        let received = try #require(try await queue.next())
        #expect(Self.sameStorage(received, big))
        #expect(received == message)
    }

    @Test("A waiting message that fills at least half of its storage is kept as it is")
    func largeShareIsNotCopied() async throws {
        let queue = InboundMessageQueue()
        let read = Self.read()
        let message = read.getSlice(at: 0, length: 32_768)!
        queue.enqueue(message)
        let received = try #require(try await queue.next())
        #expect(Self.sameStorage(received, read))
        #expect(received == message)
    }
}

extension InboundMessageQueue {
    /// A message whose credit is its own size (one frame, uncompressed), as these tests send.
    func enqueue(_ message: ByteBuffer) {
        self.enqueue(message, credit: message.readableBytes)
    }
}
