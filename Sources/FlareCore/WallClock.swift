import Glibc

/// Wall-clock time in nanoseconds since the Unix epoch: what manifests record as their
/// creation time and what deletion grace periods are measured in (they must mean the same
/// after a restart, which a monotonic clock does not).
public func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
