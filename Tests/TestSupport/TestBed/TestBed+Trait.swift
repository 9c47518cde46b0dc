import Foundation
import HostBed
import Testing

extension TestBed {
    /// Whether test-bed suites run: where a bed can be built, and always in CI (`CI` set), where a missing tool
    /// must fail the run rather than skip it.
    package static var shouldRun: Bool {
        Self.unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] != nil
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the suite or test only where a ``TestBed`` can be built (root, `ip`, `dnsmasq`, `unshare`, time
    /// namespaces), or in CI, where a missing piece must fail rather than skip.
    public static var testBed: Self {
        .enabled(if: TestBed.shouldRun, Comment(rawValue: TestBed.unavailableReason ?? "the test bed is available"))
    }
}
