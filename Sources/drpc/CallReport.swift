#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DeadlineRPC

/// How one call ended, as `-v` and `--json` print it.
struct CallReport {
    var code: RPCError.Code
    var message: String
    var trailers: Metadata
    /// The call's budget as the first hop sees it (nil without a deadline).
    var budget: BudgetAttribution?

    /// A call that ended OK.
    static func ok(trailers: Metadata = Metadata(), budget: BudgetAttribution?) -> Self {
        Self(code: .ok, message: "", trailers: trailers, budget: budget)
    }

    /// A call that failed with `error`.
    static func failed(_ error: RPCError, budget: BudgetAttribution?) -> Self {
        Self(code: error.code, message: error.message, trailers: error.metadata, budget: budget)
    }

    /// The `-v` lines: status, message, one line per trailer, budget.
    var verboseLines: [String] {
        var lines = ["status: \(self.code)", "message: \(self.message)"]
        for (key, value) in self.trailers { lines.append("trailer: \(key): \(value)") }
        if let budget = self.budget {
            lines.append("budget: \(budget)")
        } else {
            lines.append("budget: none (no deadline)")
        }
        return lines
    }

    /// The fields `--json` adds to its document.
    var jsonFields: [String: Any] {
        var trailers: [String: Any] = [:]
        for (key, value) in self.trailers {
            switch value {
            case .string(let text): trailers[key] = text
            case .binary(let bytes): trailers[key] = Data(bytes).base64EncodedString()
            }
        }
        var fields: [String: Any] = [
            "status": "\(self.code)",
            "code": Int(self.code.rawValue),
            "message": self.message,
            "trailers": trailers,
        ]
        if let budget = self.budget {
            fields["budget"] = [
                "hop": budget.hop,
                "budgetMilliseconds": Self.milliseconds(budget.originalBudget),
                "usedMilliseconds": Self.milliseconds(budget.usedHere),
            ] as [String: Any]
        }
        return fields
    }

    /// The call's budget as its first hop sees it: `budget` at `start`, `now - start` used.
    static func attribution(budget: Duration?, start: ContinuousClock.Instant) -> BudgetAttribution? {
        guard let budget else { return nil }
        return BudgetAttribution(hop: 0, originalBudget: budget, remainingOnArrival: budget, usedHere: ContinuousClock.now - start)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds / 1_000_000_000) / 1_000_000
    }
}
