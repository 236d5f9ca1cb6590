import FlareIO
import Testing

/// Engines every I/O, HTTP, data node, api node and integration test runs on: both, always.
/// Where the kernel or a seccomp profile refuses io_uring, the uring cases are skipped with
/// the reason (the liburing test-suite habit: skip, and say why) by ``skipIfUnavailable(_:)``,
/// which every helper or test that starts a loop or a node on an engine calls first.
public let testedEngines: [IOEngineKind] = [.uring, .epoll]

/// Why io_uring cannot be used here, or nil when it can; probed once.
public let uringUnavailableReason: String? = IOEngineKind.auto.resolved().fallbackReason

/// Ends the current test case as skipped when `engine` cannot run here; returns otherwise.
///
/// Swift Testing has no per-argument skip trait, so the case cancels itself (`Test.cancel`:
/// the event stream reports it cancelled, with the reason). Swift Testing 6.3's console output
/// shows a cancelled case of a parameterised test as passed, so a warning with the same
/// reason says it there; a warning does not fail the run.
public func skipIfUnavailable(_ engine: IOEngineKind) throws {
    guard engine == .uring, let reason = uringUnavailableReason else { return }
    let why = "skipped: io_uring is unavailable here (\(reason))"
    Issue.record(Comment(rawValue: why), severity: .warning)
    try Test.cancel(Comment(rawValue: why))
}
