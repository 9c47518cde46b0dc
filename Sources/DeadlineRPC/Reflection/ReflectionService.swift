/// The built-in reflection service (`drpc.reflection.v1.Reflection`): what a server serves, for tools that call it
/// without compiled types (`drpc list`, `drpc describe`, `drpc call`). Register it with
/// ``Router/addReflectionService()``; call it with ``ReflectionClient``. Its messages are JSON
/// (`docs/PROTOCOL.md`, "Reflection service").
public enum ReflectionService {
    /// Unary: ``ListMethodsRequest`` in, ``ReflectionListing`` out.
    public static let listMethodsName = "drpc.reflection.v1.Reflection/ListMethods"
    /// Unary: ``DescribeMethodRequest`` in, ``MethodDescriptor`` out (`notFound` for a method the server does not serve).
    public static let describeMethodName = "drpc.reflection.v1.Reflection/DescribeMethod"

    /// `ListMethods`'s request: no fields (`{}`); unknown fields are ignored.
    public struct ListMethodsRequest: Sendable, Hashable, Codable {
        /// Creates the request.
        public init() {}
    }

    /// `DescribeMethod`'s request: the full method name.
    public struct DescribeMethodRequest: Sendable, Hashable, Codable {
        /// The full method name, e.g. `greeter.Greeter/Greet`.
        public var method: String

        /// Creates the request.
        public init(method: String) {
            self.method = method
        }
    }
}
