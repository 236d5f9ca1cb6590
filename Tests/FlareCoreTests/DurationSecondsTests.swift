import FlareCore
import Testing

@Suite("Duration in seconds")
struct DurationSecondsTests {
    @Test("whole, fractional, sub-microsecond and negative durations", arguments: [
        (Duration.seconds(3), 3.0), (.milliseconds(1500), 1.5), (.nanoseconds(250), 250e-9),
        (.zero, 0.0), (.milliseconds(-2500), -2.5), (.seconds(86_400 * 90) + .nanoseconds(1), 86_400.0 * 90 + 1e-9),
    ])
    func seconds(duration: Duration, expected: Double) {
        #expect(abs(duration.secondsValue - expected) <= abs(expected) * 1e-15 + 1e-18, "\(duration) → \(duration.secondsValue)")
    }
}
