extension Duration {
    /// The duration in seconds as a `Double`, for metrics, logs and reports: exact to well
    /// under a nanosecond for anything shorter than a few months.
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
