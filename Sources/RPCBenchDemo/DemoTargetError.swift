/// A demo target that cannot be reached or read, with a sentence naming what failed.
package struct DemoTargetError: Error, CustomStringConvertible {
    /// What went wrong.
    package var description: String

    /// Creates an error with its explanation.
    package init(_ description: String) {
        self.description = description
    }
}
