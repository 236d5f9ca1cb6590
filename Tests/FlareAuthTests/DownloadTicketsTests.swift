import FlareAuth
import Testing

@Suite("Download tickets: signed links to one object, for a while")
struct DownloadTicketsTests {
    static let tickets = DownloadTickets(key: Array(repeating: 7, count: 32))
    static let path: Substring = "/admin/buckets/flare/object/a%2Fb.bin"
    static let now = 1_800_000_000

    static func parts(_ query: String) -> (expires: Substring, signature: Substring) {
        let pairs = query.split(separator: "&")
        #expect(pairs.count == 2 && pairs[0].hasPrefix("expires=") && pairs[1].hasPrefix("signature="), "\(query)")
        return (pairs[0].dropFirst("expires=".count), pairs[1].dropFirst("signature=".count))
    }

    @Test("a ticket opens its path until it expires, then not")
    func lifetime() {
        let (expires, signature) = Self.parts(Self.tickets.query(path: Self.path, now: Self.now))
        #expect(Int(expires) == Self.now + DownloadTickets.lifetimeSeconds)
        #expect(signature.count == 64)
        #expect(Self.tickets.check(path: Self.path, expires: expires, signature: signature, now: Self.now) == .accepted)
        #expect(Self.tickets.check(path: Self.path, expires: expires, signature: signature, now: Self.now + DownloadTickets.lifetimeSeconds) == .accepted)
        #expect(Self.tickets.check(path: Self.path, expires: expires, signature: signature, now: Self.now + DownloadTickets.lifetimeSeconds + 1) == .expired)
    }

    @Test("another path, a later expiry, another key, or a signature not as made: wrong")
    func forgeries() {
        let (expires, signature) = Self.parts(Self.tickets.query(path: Self.path, now: Self.now))
        #expect(Self.tickets.check(path: "/admin/buckets/flare/object/a%2Fc.bin", expires: expires, signature: signature, now: Self.now) == .wrong)
        #expect(Self.tickets.check(path: Self.path, expires: Substring(String(Int(expires)! + 3600)), signature: signature, now: Self.now) == .wrong)
        #expect(Self.tickets.check(path: Self.path, expires: "0" + expires, signature: signature, now: Self.now) == .wrong, "the same number, spelt otherwise")
        #expect(Self.tickets.check(path: Self.path, expires: expires, signature: Substring(signature.uppercased()), now: Self.now) == .wrong)
        #expect(Self.tickets.check(path: Self.path, expires: expires, signature: signature.dropLast(2), now: Self.now) == .wrong)
        #expect(Self.tickets.check(path: Self.path, expires: expires, signature: "", now: Self.now) == .wrong)
        var flipped = Array(signature.utf8)
        flipped[10] = flipped[10] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(Self.tickets.check(path: Self.path, expires: expires, signature: Substring(String(decoding: flipped, as: UTF8.self)), now: Self.now) == .wrong)
        let other = DownloadTickets(key: Array(repeating: 8, count: 32))
        #expect(other.check(path: Self.path, expires: expires, signature: signature, now: Self.now) == .wrong)
        // Two apis (or one restarted) draw different keys.
        let (e2, s2) = Self.parts(DownloadTickets.random().query(path: Self.path, now: Self.now))
        #expect(DownloadTickets.random().check(path: Self.path, expires: e2, signature: s2, now: Self.now) == .wrong)
    }
}
