/// Why a file of secrets or tokens was refused: the file, the line (1-based) and what is
/// wrong with it. The secret itself is never part of the message.
public struct CredentialFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file as the flag named it.
    public let source: String
    /// The line the problem is on; nil for a problem of the whole file (nothing in it).
    public let line: Int?
    /// What is wrong.
    public let reason: String

    public init(source: String, line: Int?, reason: String) {
        self.source = source
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { return "\(source) line \(line): \(reason)" }
        return "\(source): \(reason)"
    }
}

/// The meaningful lines of a credentials file with their numbers: blank lines and lines
/// starting with `#` are skipped, and each line is trimmed of spaces, tabs and a `\r`.
func credentialLines(_ text: String) -> [(number: Int, text: Substring)] {
    var lines: [(Int, Substring)] = []
    var number = 0
    // "\r\n" is one Character in Swift: a file written on Windows splits on it too.
    for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
        number += 1
        let line = raw.trimmingWhitespace()
        guard !line.isEmpty, !line.hasPrefix("#") else { continue }
        lines.append((number, line))
    }
    return lines
}

extension Substring {
    /// Without leading and trailing spaces, tabs and carriage returns.
    func trimmingWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
