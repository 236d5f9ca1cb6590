import Glibc

/// IMF-fixdate strings (`Sun, 06 Nov 1994 08:49:37 GMT`) for `Date` and `Last-Modified`.
public enum HTTPDate {
    /// The date for `secondsSinceEpoch`, or now.
    public static func string(secondsSinceEpoch: Int? = nil) -> String {
        var seconds = time_t(secondsSinceEpoch ?? Int(time(nil)))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = [CChar](repeating: 0, count: 40)
        let count = strftime(&text, text.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: text[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
