/// Durations as a status line shows them: `45s`, `3m20s`, `2h05m`, `3d04h`. Two units at
/// most: an ETA is an estimate, and seconds of a day-long one are noise.
public enum CompactDuration {
    public static func format(seconds: Double) -> String {
        // Past a century (or not a number) an estimate says nothing, and Int() would trap.
        guard seconds.isFinite, seconds < 3_153_600_000 else { return "?" }
        let total = Int(max(0, seconds).rounded())
        let (days, hours, minutes, rest) = (total / 86_400, total / 3600 % 24, total / 60 % 60, total % 60)
        if days > 0 { return "\(days)d" + twoDigits(hours) + "h" }
        if hours > 0 { return "\(hours)h" + twoDigits(minutes) + "m" }
        if minutes > 0 { return "\(minutes)m" + twoDigits(rest) + "s" }
        return "\(rest)s"
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
