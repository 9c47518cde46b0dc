/// `Module.Outer.Name` for a type, without the `(unknown context at $…)` segments private types carry: the name a
/// reader can search for.
func readableTypeName(_ type: Any.Type) -> String {
    String(reflecting: type)
        .split(separator: ".")
        .filter { !$0.hasPrefix("(unknown context at") }
        .joined(separator: ".")
}
