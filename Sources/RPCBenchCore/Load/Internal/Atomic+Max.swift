import Synchronization

extension Atomic where Value == Int64 {
    /// Raises the value to `candidate` if it is larger.
    func max(_ candidate: Int64) {
        var current = self.load(ordering: .relaxed)
        while candidate > current {
            let (exchanged, original) = self.compareExchange(expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}
