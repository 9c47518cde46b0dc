import Testing

/// A test that floods the machine (hostile-peer floods, soaks, fuzzing) or measures time across processes and
/// threads (the demo topology, multi-process cascades): tests with this trait never run beside each other.
///
/// Swift Testing runs suites in parallel within one process, and every suite shares NIO's singleton event loops and
/// two cores. A flood that queues thousands of writes on those loops starved a multi-process demo test's HTTP
/// exchange past its timeout in a loaded CI run; serializing only the heavy tests keeps the light ones parallel.
/// Apply it to a suite to cover every test in it.
public struct HeavyweightTrait: TestTrait, SuiteTrait, TestScoping {
    /// Reaches every test of a suite the trait is applied to.
    public var isRecursive: Bool { true }

    /// One scope per test case: a suite holding the gate would block its own tests.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    /// Runs the test case while holding the process-wide gate.
    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        await HeavyweightGate.shared.enter()
        defer { HeavyweightGate.shared.leave() }
        try await function()
    }
}

extension Trait where Self == HeavyweightTrait {
    /// Never runs beside another heavyweight test (see ``HeavyweightTrait``).
    public static var heavyweight: Self { HeavyweightTrait() }
}
