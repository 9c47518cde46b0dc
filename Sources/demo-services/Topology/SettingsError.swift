/// A settings value the command line got wrong, with a sentence saying how to fix it.
struct SettingsError: Error, CustomStringConvertible {
    /// What was wrong.
    var description: String

    /// Creates an error with its explanation.
    init(_ description: String) {
        self.description = description
    }
}
