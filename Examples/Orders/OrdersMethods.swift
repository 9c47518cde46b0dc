import DeadlineRPC
import DeadlineRPCProtobuf

/// The methods of orders.proto's `orders.Orders` service, declared as `Method` values (DeadlineRPC generates no
/// service code: the messages come from protoc, the methods are one line each).
public enum OrdersMethods {
    /// `rpc Place(PlaceOrderRequest) returns (Order)`; may fail with `OutOfStock` details.
    public static let place = Method<Orders_PlaceOrderRequest, Orders_Order>.unary("orders.Orders/Place")
    /// `rpc Watch(WatchOrderRequest) returns (stream OrderEvent)`.
    public static let watch = Method<Orders_WatchOrderRequest, Orders_OrderEvent>.serverStreaming("orders.Orders/Watch")
}
