// One 4 GiB loopback transfer outside the benchmark harness, so that `strace -f -c` and
// `perf stat` see only the transfer and the process start-up.
//
//     loopback-strace [uring|epoll|blocking] [gibibytes]
//
// Exits 77 (the automake "skipped" code) when io_uring is asked for and unavailable.
import FlareIO
import Glibc
import LoopbackTransfer

let arguments = CommandLine.arguments.dropFirst()
let mode = arguments.first ?? "uring"
let gibibytes = arguments.dropFirst().first.flatMap { Int($0) } ?? TransferShape.totalBytes >> 30
let totalBytes = gibibytes << 30

func fail(_ message: String, code: Int32 = 1) -> Never {
    printToStandardError("loopback-strace: \(message)")
    exit(code)
}

do {
    let result: TransferResult
    switch mode {
    case "blocking":
        result = try BlockingLoopback().transfer(totalBytes: totalBytes)
    case "uring", "epoll":
        let kind: IOEngineKind = mode == "uring" ? .uring : .epoll
        if kind == .uring, let reason = ioUringUnavailableReason() {
            fail("io_uring skipped: \(reason)", code: 77)
        }
        let loopback = try FlareLoopback(kind: kind)
        result = try await loopback.transfer(totalBytes: totalBytes)
        try await loopback.close()
    default:
        fail("unknown mode '\(mode)': use uring, epoll or blocking", code: 2)
    }
    print("\(mode): \(result)")
} catch {
    fail("\(mode) transfer failed: \(error)")
}
