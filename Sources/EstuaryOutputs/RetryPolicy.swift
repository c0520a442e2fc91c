/// How long to wait before sending a failed request again: capped exponential backoff with
/// full jitter, raised to the server's `Retry-After` when it sends one. Pure; the random
/// source is a parameter so tests can pin it.
///
/// Attempt n (1 for the first retry) has the ceiling `min(maximum, initial × 2^(n-1))`, and
/// the delay is uniform in `[0, ceiling]` ("full jitter": a fleet of relays that lost the same
/// server spreads its retries instead of returning in lockstep). A `Retry-After` raises the
/// delay to at least that many seconds, up to `retryAfterCap`.
public struct RetryPolicy: Sendable, Equatable {
    /// Seconds: the ceiling of the first retry.
    public var initial: Double
    /// Seconds: the highest ceiling, and the delay of slow retries.
    public var maximum: Double
    /// Seconds: the most a `Retry-After` may ask for (600, as Telegraf allows).
    public var retryAfterCap: Double

    public init(initial: Double, maximum: Double, retryAfterCap: Double = 600) {
        let safeInitial = initial.isFinite && initial > 0 ? initial : 0.001
        self.initial = safeInitial
        self.maximum = maximum.isFinite && maximum >= safeInitial ? maximum : safeInitial
        self.retryAfterCap = retryAfterCap.isFinite && retryAfterCap >= 0 ? retryAfterCap : 600
    }

    /// The upper bound of the delay before retry number `attempt` (1-based).
    public func ceiling(attempt: Int) -> Double {
        let exponent = max(attempt, 1) - 1
        if exponent >= 62 { return maximum }
        let grown = initial * Double(UInt64(1) << UInt64(exponent))
        return min(maximum, grown)
    }

    /// The delay before retry number `attempt` (1-based): uniform in `[0, ceiling(attempt)]`,
    /// then at least `retryAfter` (capped at `retryAfterCap`) when the server sent one.
    public func delay<R: RandomNumberGenerator>(attempt: Int, retryAfter: Double? = nil, using random: inout R) -> Double {
        let top = ceiling(attempt: attempt)
        let jittered = top > 0 ? Double.random(in: 0...top, using: &random) : 0
        guard let retryAfter, retryAfter.isFinite, retryAfter > 0 else { return jittered }
        return max(jittered, min(retryAfter, retryAfterCap))
    }

    /// The delay of a slow retry (401/403, 404, unexpected statuses): `maximum`, jittered
    /// down by up to 10% so a fleet does not return in lockstep.
    public func slowDelay<R: RandomNumberGenerator>(using random: inout R) -> Double {
        maximum * Double.random(in: 0.9...1.0, using: &random)
    }
}
