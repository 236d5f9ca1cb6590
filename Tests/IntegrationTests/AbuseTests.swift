import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// Abusive clients from their own loopback addresses (127.0.0.2 and up: the whole of
/// 127.0.0.0/8 is this host's) while a well-behaved client on 127.0.0.1 does PUT and GET.
@Suite("Abuse: per-client limits, slowloris, non-reading GETs, floods", .serialized)
struct AbuseTests {
    /// `abuse.py PORT WHAT SECONDS`: runs one kind of abuse and prints what each connection
    /// got as `status <first status line or "closed" or "open">`, one line per connection.
    static let abuse = #"""
    import socket, sys, time, threading
    port, what, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    results, lock = [], threading.Lock()
    def connect(source, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        return s
    def outcome(s, wait):
        s.settimeout(wait)
        try:
            data = s.recv(200)
            return data.split(b"\r\n")[0].decode() if data else "closed"
        except socket.timeout:
            return "open"
        except OSError:
            return "closed"
    def note(text):
        with lock: results.append(text)
    if what == "slowloris":
        # 500 connections sending a head a byte a second: never complete.
        socks = []
        for i in range(500):
            try:
                s = connect("127.0.0.2"); s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n"); socks.append(s)
            except OSError as e:
                note("refused-connect " + str(e))
        end = time.time() + seconds
        while time.time() < end:
            for s in socks:
                try: s.send(b"X")
                except OSError: pass
            time.sleep(1)
        for s in socks: note(outcome(s, 1.0)); s.close()
    elif what == "stalled-gets":
        socks = []
        for i in range(20):
            s = connect("127.0.0.3", rcvbuf=4096); s.sendall(b"GET /object/abuse-big HTTP/1.1\r\nHost: x\r\n\r\n"); socks.append(s)
        time.sleep(seconds)
        for s in socks: note("stalled"); s.close()
    elif what == "flood":
        end = time.time() + seconds
        while time.time() < end:
            try:
                s = connect("127.0.0.4"); s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                note(outcome(s, 2.0)); s.close()
            except OSError as e:
                note("refused-connect")
    elif what == "slow-uploads":
        socks = []
        for i in range(8):
            s = connect("127.0.0.5"); s.sendall(b"PUT /object/abuse-slow-%d HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" % i); socks.append(s)
        end = time.time() + seconds
        while time.time() < end:
            for s in socks:
                try: s.send(b"x" * 100)
                except OSError: pass
            time.sleep(0.5)
        for s in socks: note(outcome(s, 0.5)); s.close()
    for r in results: print("status", r)
    """#

    /// `client.py PORT COUNT`: PUTs and GETs 4 KiB objects one after another on a kept-alive
    /// connection; prints each exchange's latency in ms.
    static let client = #"""
    import http.client, sys, time, os
    port, count = int(sys.argv[1]), int(sys.argv[2])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = os.urandom(4096)
    for i in range(count):
        start = time.perf_counter()
        if i % 2 == 0:
            conn.request("PUT", "/object/good-%d" % i, body=body); r = conn.getresponse(); r.read(); assert r.status == 201, r.status
        else:
            conn.request("GET", "/object/good-%d" % (i - 1)); r = conn.getresponse(); got = r.read(); assert r.status == 200 and got == body
        print("%.3f" % ((time.perf_counter() - start) * 1000))
    """#

    static func p99(_ output: String) -> Double {
        let values = output.split(separator: "\n").compactMap { Double($0) }.sorted()
        return values.isEmpty ? .infinity : values[min(values.count - 1, Int(Double(values.count) * 0.99))]
    }

    @Test("slowloris ×500, 20 non-reading GETs, a connection flood and slow uploads, each from its own address: the other client never waits for an abuser's time-out, the abusers get 408 / 429 / closed",
          arguments: testedEngines)
    func abuse(engine: IOEngineKind) async throws {
        let options = ["--head-timeout", "5", "--body-timeout", "6", "--max-connection-rate-per-client", "20",
                       "--max-requests-per-client", "4", "--replicas", "1"]
        try await withCluster(engine, "abuse", apiOptions: options) { cluster in
            let tmp = cluster.scratch.tmp
            let big = try await cluster.randomFile("abuse-big", size: 64 << 20)
            #expect(try await cluster.put("abuse-big", file: big).status == 201)
            try Self.abuse.write(toFile: "\(tmp)/abuse.py", atomically: true, encoding: .utf8)
            try Self.client.write(toFile: "\(tmp)/client.py", atomically: true, encoding: .utf8)
            let port = "\(cluster.api.port)"
            let idle = try await runProgram("/usr/bin/env", ["python3", "\(tmp)/client.py", port, "400"], in: tmp)
            try #require(idle.status == 0, "the client alone: \(idle.stderr)")
            let idleP99 = Self.p99(idle.stdout)

            async let slowloris = runProgram("/usr/bin/env", ["python3", "\(tmp)/abuse.py", port, "slowloris", "7"], in: tmp)
            async let stalled = runProgram("/usr/bin/env", ["python3", "\(tmp)/abuse.py", port, "stalled-gets", "8"], in: tmp)
            async let flood = runProgram("/usr/bin/env", ["python3", "\(tmp)/abuse.py", port, "flood", "5"], in: tmp)
            async let uploads = runProgram("/usr/bin/env", ["python3", "\(tmp)/abuse.py", port, "slow-uploads", "6"], in: tmp)
            try await Task.sleep(for: .seconds(1))
            let busy = try await runProgram("/usr/bin/env", ["python3", "\(tmp)/client.py", port, "400"], in: tmp)
            let (s, g, f, u) = try await (slowloris, stalled, flood, uploads)
            try #require(busy.status == 0, "the client beside the abusers: \(busy.stderr)")
            let busyP99 = Self.p99(busy.stdout)
            // Not starved: no request of the other client waited as long as an abuser's shortest
            // time-out (5 s for a head), which is what being stuck behind them would look like.
            // How much slower it got (p99 beside ÷ alone) is a speed, measured where the machine
            // is quiet (bench-results/README.md: within 2×), not asserted here, where the whole
            // suite shares two cores.
            let busyMax = busy.stdout.split(separator: "\n").compactMap { Double($0) }.max() ?? .infinity
            #expect(busyMax < 5000, "a request of the other client took \(busyMax) ms beside the abusers: it waited for their time-outs")
            print("abuse: the other client's p99 \(busyP99) ms beside the abusers, \(idleP99) ms alone, slowest \(busyMax) ms (\(engine))")

            func statuses(_ run: (status: Int32, stdout: String, stderr: String)) -> [String: Int] {
                var counts: [String: Int] = [:]
                for line in run.stdout.split(separator: "\n") where line.hasPrefix("status ") {
                    counts[String(line.dropFirst(7).prefix(12)), default: 0] += 1
                }
                return counts
            }
            let slow = statuses(s), floods = statuses(f), ups = statuses(u)
            // Past the connection rate they are refused at once (429); the rest time out (408, 5 s).
            #expect(s.status == 0 && slow["HTTP/1.1 408", default: 0] > 0 && slow["open", default: 0] == 0
                        && slow.values.reduce(0, +) == 500 && slow.keys.allSatisfy { ["HTTP/1.1 408", "HTTP/1.1 429", "closed"].contains($0) },
                    "slowloris connections not all cut off (408 by --head-timeout, 429 by the rate): \(slow) \(s.stderr.suffix(500))")
            #expect(g.status == 0, "\(g.stderr.suffix(500))")
            #expect(f.status == 0 && floods["HTTP/1.1 429", default: 0] > 0 && floods["HTTP/1.1 200", default: 0] > 0,
                    "a flood of connections from one address: \(floods) \(f.stderr.suffix(500))")
            #expect(u.status == 0 && ups["HTTP/1.1 429", default: 0] >= 4, "8 uploads at once from one address, 4 allowed: \(ups) \(u.stderr.suffix(500))")
            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: tmp).text
            for reason in ["client_connection_rate", "client_requests"] {
                #expect(metrics.contains("flare_api_refused_total{reason=\"\(reason)\"}"), "no \(reason) refusals counted")
            }
        }
    }
}
