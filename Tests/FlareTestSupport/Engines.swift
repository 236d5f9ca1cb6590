import FlareIO

/// Engines every I/O, data node and integration test runs on. io_uring is left out, with the
/// reason printed, where the kernel or a seccomp profile refuses it (the liburing test-suite
/// habit: skip, and say why).
public let testedEngines: [IOEngineKind] = {
    if let reason = IOEngineKind.auto.resolved().fallbackReason {
        print("note: io_uring tests skipped: \(reason)")
        return [.epoll]
    }
    return [.uring, .epoll]
}()
