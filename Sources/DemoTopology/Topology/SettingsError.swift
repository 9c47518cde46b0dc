/// A settings value the command line got wrong, with a sentence saying how to fix it.
package struct SettingsError: Error, CustomStringConvertible {
    /// What was wrong.
    package var description: String

    /// Creates an error with its explanation.
    package init(_ description: String) {
        self.description = description
    }
}
