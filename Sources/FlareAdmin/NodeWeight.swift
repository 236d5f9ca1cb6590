/// A weight as `flare node weight` takes it: a whole number, or `capacity` for the api's
/// default (the node's capacity in GiB), which also follows the capacity if it changes.
public enum NodeWeight: Sendable, Equatable, CustomStringConvertible {
    case value(Int)
    case capacity

    /// - Returns: `nil` for anything but `capacity` or a whole number ≥ 0.
    public init?(_ text: String) {
        if text == "capacity" {
            self = .capacity
        } else if let number = Int(text), number >= 1 {
            self = .value(number)
        } else {
            return nil
        }
    }

    /// As the api's `value=` parameter reads it.
    public var description: String {
        switch self {
        case .value(let number): return "\(number)"
        case .capacity: return "capacity"
        }
    }
}
