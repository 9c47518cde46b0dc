@testable import DeadlineRPC
import Testing

extension Router {
    /// `TestMethods.wait` holds its call until `gate` fires — firing `started` as it begins, and `cancelled` if its
    /// task is cancelled meanwhile (it still waits for `gate`: fire it to let the handler return) — and
    /// `TestMethods.echo` answers at once.
    static func heldCalls(started: Signal, gate: Signal, cancelled: Signal? = nil) -> Router {
        var router = Router()
        router.unary(TestMethods.wait) { request, _ in
            started.fire()
            _ = await withTaskCancellationHandler {
                await gate.wait()
            } onCancel: {
                cancelled?.fire()
            }
            return request
        }
        router.unary(TestMethods.echo) { request, _ in request }
        return router
    }
}
