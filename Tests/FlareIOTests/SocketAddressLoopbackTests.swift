import FlareIO
import Testing

/// Which addresses only this machine reaches: what decides whether a data node may run
/// without a cluster secret, and whether the api warns about an open native API.
@Suite("SocketAddress.isLoopback")
struct SocketAddressLoopbackTests {
    @Test("127.0.0.0/8, ::1, ::ffff:127.x and localhost are loopback; the wildcards and other addresses are not")
    func loopback() throws {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"] {
            #expect(try SocketAddress(host: host, port: 9001).isLoopback, "\(host)")
        }
        for host in ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "192.168.1.127", "::2", "::ffff:10.0.0.1", "fe80::1"] {
            #expect(try !SocketAddress(host: host, port: 9001).isLoopback, "\(host)")
        }
    }
}
