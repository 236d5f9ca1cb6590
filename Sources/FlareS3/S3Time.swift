import struct Foundation.Date

/// The date formats S3 speaks, done by hand on UTC civil dates: `DateFormatter` is slow, locale-
/// dependent and not safe to share between threads, and these formats are fixed.
public enum S3Time {
    private static let secondsPerDay: Int64 = 86_400
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private static let dayNames = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday

    /// `2009-10-12T17:50:30.000Z`: how S3's XML writes `LastModified`, `Initiated`, `CreationDate`.
    public static func iso8601Milliseconds(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = floorDivide(milliseconds, 1000)
        let (y, mo, d, h, mi, s) = civil(seconds)
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(Int(milliseconds - seconds * 1000), 3))Z"
    }

    /// `Wed, 12 Oct 2009 17:50:00 GMT` (RFC 9110's IMF-fixdate): `Last-Modified`, `Date`.
    public static func httpDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (y, mo, d, h, mi, s) = civil(seconds)
        let weekday = dayNames[Int(((floorDivide(seconds, secondsPerDay) % 7) + 7) % 7)]
        return "\(weekday), \(pad(d, 2)) \(monthNames[mo - 1]) \(pad(y, 4)) \(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)) GMT"
    }

    /// Reads SigV4's `20130524T000000Z`; nil for anything else (also out-of-range fields).
    public static func parseAmzDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        let days = daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        let total = days * secondsPerDay + Int64(hour * 3600 + minute * 60 + second)
        return Date(timeIntervalSince1970: Double(total))
    }

    /// Reads a date of a conditional header (`x-amz-copy-source-if-modified-since` and the
    /// like): RFC 9110's IMF-fixdate (`Wed, 12 Oct 2009 17:50:00 GMT`, what clients send) or
    /// ISO 8601 in UTC (`2009-10-12T17:50:00Z`, with or without milliseconds); nil otherwise.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        let fields: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int)
        if bytes.count == 29, text.hasSuffix(" GMT"), bytes[3] == UInt8(ascii: ","), bytes[4] == UInt8(ascii: " ") {
            // `Www, DD Mon YYYY HH:MM:SS GMT`
            let monthName = String(decoding: bytes[8..<11], as: UTF8.self)
            guard let month = monthNames.firstIndex(of: monthName), let day = number(5..<7), let year = number(12..<16),
                  let hour = number(17..<19), let minute = number(20..<22), let second = number(23..<25),
                  bytes[19] == UInt8(ascii: ":"), bytes[22] == UInt8(ascii: ":") else { return nil }
            fields = (year, month + 1, day, hour, minute, second)
        } else if bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[10] == UInt8(ascii: "T") {
            // `YYYY-MM-DDTHH:MM:SS[.fff]Z`
            guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
                  let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
                  bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[13] == UInt8(ascii: ":"),
                  bytes[16] == UInt8(ascii: ":"), bytes.count == 20 || (bytes.count > 21 && bytes[19] == UInt8(ascii: ".") && number(20..<(bytes.count - 1)) != nil)
            else { return nil }
            fields = (year, month, day, hour, minute, second)
        } else {
            return nil
        }
        guard (1...12).contains(fields.month), (1...31).contains(fields.day), fields.hour < 24, fields.minute < 60, fields.second < 61
        else { return nil }
        let days = daysFromCivil(year: Int64(fields.year), month: Int64(fields.month), day: Int64(fields.day))
        return Date(timeIntervalSince1970: Double(days * secondsPerDay + Int64(fields.hour * 3600 + fields.minute * 60 + fields.second)))
    }

    // Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian
    // calendar, no tables.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civil(_ seconds: Int64) -> (Int, Int, Int, Int, Int, Int) {
        let days = floorDivide(seconds, secondsPerDay)
        let secondOfDay = seconds - days * secondsPerDay
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day), Int(secondOfDay / 3600), Int(secondOfDay % 3600 / 60), Int(secondOfDay % 60))
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
