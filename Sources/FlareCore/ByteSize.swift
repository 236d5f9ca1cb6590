/// Byte sizes as operators write them: `4096`, `64KiB`, `4MiB`, `1GiB` (also `KB`/`MB`/`GB`
/// as the same binary units, and `K`/`M`/`G`).
public enum ByteSize {
    /// Parses a size; `nil` for anything malformed, negative or overflowing.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: " ")
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).lowercased()
        let multiplier: Int
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        case "t", "tb", "tib": multiplier = 1 << 40
        default: return nil
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : value
    }

    /// A short human form: `4 MiB`, `1.5 GiB`, `512 B`.
    public static func format(_ bytes: Int) -> String {
        let units = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where bytes >= size {
            // One decimal at most, and none when it rounds to a whole number (252 GiB, not 252.0).
            let tenths = (Double(bytes) / Double(size) * 10).rounded() / 10
            return tenths == tenths.rounded() ? "\(Int(tenths)) \(name)" : "\(tenths) \(name)"
        }
        return "\(bytes) B"
    }
}
