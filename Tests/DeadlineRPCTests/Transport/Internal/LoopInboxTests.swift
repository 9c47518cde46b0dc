import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import DeadlineRPC

@Suite("LoopInbox: in-order hand-off to an event loop, one job per batch")
struct LoopInboxTests {
    @Test("Only the push into an idle inbox asks for a drain; the drain takes everything in order")
    func oneDrainPerBatch() {
        let inbox = LoopInbox<Int>()
        #expect(inbox.isIdle)
        #expect(inbox.push(1))
        #expect(!inbox.isIdle)
        #expect(!inbox.push(2))
        #expect(!inbox.push(3))
        var taken: [Int] = []
        inbox.takeAll { taken.append(contentsOf: $0) }
        #expect(taken == [1, 2, 3])
        #expect(inbox.isIdle)
        // After a drain, the next push needs a drain again, and nothing is taken twice.
        #expect(inbox.push(4))
        taken = []
        inbox.takeAll { taken.append(contentsOf: $0) }
        #expect(taken == [4])
    }

    @Test("An item pushed while a batch is being handled goes to the next batch, and asks for its own drain")
    func pushDuringDrain() {
        let inbox = LoopInbox<Int>()
        _ = inbox.push(1)
        var needsDrain = false
        var first: [Int] = []
        inbox.takeAll { batch in
            first = batch
            needsDrain = inbox.push(2)
        }
        #expect(first == [1])
        #expect(needsDrain)
        var second: [Int] = []
        inbox.takeAll { second = $0 }
        #expect(second == [2])
    }

    @Test("Many threads pushing through a real event loop: every item arrives once, in each producer's order")
    func concurrentProducers() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let inbox = LoopInbox<(producer: Int, sequence: Int)>()
        let sink = Sink(producers: 8)
        let perProducer = 2000
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<8 {
                group.addTask {
                    for sequence in 0..<perProducer where inbox.push((producer, sequence)) {
                        loop.execute {
                            sink.drains.add(1, ordering: .relaxed)
                            inbox.takeAll { batch in
                                sink.received.withLock { for item in batch { $0[item.producer].append(item.sequence) } }
                            }
                        }
                    }
                }
            }
        }
        // Wait for the loop to take the last batch: a job queued behind every drain job scheduled so far.
        try await loop.submit {}.get()
        let lists = sink.received.withLock { $0 }
        for list in lists { #expect(list == Array(0..<perProducer)) }
        #expect(sink.drains.load(ordering: .relaxed) >= 1)
        #expect(inbox.isIdle)
    }
}

/// What the loop received, per producer, and how many drain jobs ran (how many depends on timing, so the test
/// only checks that items were drained by them, not that they were batched).
private final class Sink: Sendable {
    let received: Mutex<[[Int]]>
    let drains = Atomic<Int>(0)

    init(producers: Int) {
        self.received = Mutex(Array(repeating: [], count: producers))
    }
}
