/// A seeded pseudo-random generator (SplitMix64) for repeatable property tests: a failing
/// test prints its seed, and the same seed gives the same inputs again.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Iterations for property tests: `ESTUARY_PROPERTY_ITERATIONS` or the given default.
public func propertyIterations(default value: Int) -> Int {
    if let text = getenvString("ESTUARY_PROPERTY_ITERATIONS"), let n = Int(text), n > 0 { return n }
    return value
}

#if canImport(Glibc)
import Glibc
#endif

func getenvString(_ name: String) -> String? {
    guard let raw = getenv(name) else { return nil }
    return String(cString: raw)
}
