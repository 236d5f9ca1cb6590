/// The admin token the CLI sends as `Authorization: Bearer <token>`: the first line of the
/// token file (`--token-file`, `$FLARE_ADMIN_TOKEN_FILE`) that is neither blank nor a `#`
/// comment — the same file the api reads with `--admin-token-file`, whose other lines are
/// tokens the api also accepts.
public struct AdminToken: Sendable, Equatable {
    public let value: String

    /// - Parameter source: the file, for the message when it holds no token.
    public init(parsing text: String, source: String) throws(AdminError) {
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let trimmed = line.trimmingBlanks()
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            guard !trimmed.contains(" ") && !trimmed.contains("\t") else {
                throw .tokenFile(source, why: "its first token holds spaces")
            }
            value = String(trimmed)
            return
        }
        throw .tokenFile(source, why: "it holds no token")
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and carriage returns.
    func trimmingBlanks() -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return self[first...last]
    }
}
