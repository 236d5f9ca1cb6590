import FlareCore
import Testing

/// Keys are everything after `/object/`, percent-decoded: 1–1024 bytes of UTF-8 without
/// control characters.
@Suite("ObjectKey")
struct ObjectKeyTests {
    @Test("valid keys decode", arguments: [
        ("photos/2024/cat.jpg", "photos/2024/cat.jpg"),
        ("a//b/", "a//b/"),
        ("my%20file.txt", "my file.txt"),
        ("raw space", "raw space"),
        ("price%E2%82%AC", "price€"),
        ("price%e2%82%ac", "price€"),
        ("price€", "price€"),
        ("日本/語", "日本/語"),
        ("100%25", "100%"),
        ("a%2Fb", "a/b"),
        ("q%3Fx%23y", "q?x#y"),
        ("plus+stays", "plus+stays"),
        ("%41", "A"),
        ("~._-", "~._-"),
    ])
    func valid(raw: String, expected: String) throws {
        #expect(try ObjectKey.decode(raw) == expected)
    }

    @Test("invalid keys are refused", arguments: [
        ("", "empty"),
        ("%ZZ", "malformed escape"),
        ("abc%", "escape cut short"),
        ("abc%4", "escape cut short"),
        ("%G0", "malformed escape"),
        ("%C3%28", "invalid UTF-8"),
        ("%FF", "invalid UTF-8"),
        ("%C0%AF", "overlong UTF-8"),
        ("%ED%A0%80", "surrogate"),
        ("%00", "NUL"),
        ("a%1Fb", "unit separator"),
        ("a%7F", "DEL"),
        ("%C2%80", "C1 control"),
        ("tab%09", "tab"),
        ("line%0Abreak", "newline"),
    ])
    func invalid(raw: String, why: String) {
        #expect(throws: ObjectKey.Invalid.self, "\(why): \(raw)") { try ObjectKey.decode(raw) }
    }

    @Test("1024 bytes is the limit, counted after decoding")
    func length() throws {
        #expect(try ObjectKey.decode(String(repeating: "k", count: 1024)).utf8.count == 1024)
        #expect(throws: ObjectKey.Invalid.self) { try ObjectKey.decode(String(repeating: "k", count: 1025)) }
        // 1024 escapes decode to 1024 bytes: still fine.
        #expect(try ObjectKey.decode(String(repeating: "%41", count: 1024)).utf8.count == 1024)
        #expect(throws: ObjectKey.Invalid.self) { try ObjectKey.decode(String(repeating: "%41", count: 1025)) }
        // Multi-byte characters count in bytes: 341 × 3 + 1 = 1024, one more euro is 1027.
        #expect(try ObjectKey.decode(String(repeating: "€", count: 341) + "x").utf8.count == 1024)
        #expect(throws: ObjectKey.Invalid.self) { try ObjectKey.decode(String(repeating: "€", count: 342)) }
    }

    @Test("encode then decode returns the key", arguments: [
        "plain", "with space", "slash/es/", "percent%", "euro€", "q?x#y&z=1", "plus+", "日本語", "~._-",
        String(repeating: "ü", count: 512),
    ])
    func roundTrip(key: String) throws {
        let encoded = ObjectKey.encode(key)
        #expect(encoded.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != 0x3f && $0 != 0x23 }, "\(encoded) is not URL-safe")
        #expect(try ObjectKey.decode(encoded) == key)
    }
}
