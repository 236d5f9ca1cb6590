/// A single `Range: bytes=…` request resolved against a length (RFC 9110 §14).
public enum ByteRange: Equatable, Sendable {
    /// No range, or one the server ignores (multiple ranges): send everything.
    case full
    /// Send `bytes` (half-open) with 206.
    case partial(Range<Int>)
    /// 416 with `Content-Range: bytes */length`.
    case unsatisfiable

    /// Resolves the header value against a representation of `length` bytes.
    public static func resolve(_ header: String?, length: Int) -> ByteRange {
        guard let header else { return .full }
        let text = header.trimmingCharacters(in: " ")
        guard text.lowercased().hasPrefix("bytes=") else { return .full }
        let spec = text.dropFirst(6)
        // Several ranges would need multipart/byteranges; the whole body is a valid answer.
        guard !spec.contains(",") else { return .full }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .full }
        let first = String(parts[0]).trimmingCharacters(in: " "), last = String(parts[1]).trimmingCharacters(in: " ")
        func number(_ s: String) -> Int? {
            guard !s.isEmpty, s.utf8.count <= 18, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int(s)
        }
        if first.isEmpty {
            // Suffix range: the last N bytes.
            guard let suffix = number(last) else { return .full }
            guard suffix > 0, length > 0 else { return .unsatisfiable }
            return .partial(max(0, length - suffix)..<length)
        }
        guard let start = number(first) else { return .full }
        if last.isEmpty {
            return start < length ? .partial(start..<length) : .unsatisfiable
        }
        guard let end = number(last), end >= start else { return .full }
        guard start < length else { return .unsatisfiable }
        return .partial(start..<min(end + 1, length))
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return String(s)
    }
}
