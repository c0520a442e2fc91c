/// One quantity of an interface at one poll (received octets, say): the counters it is the
/// sum of, and how wide they are.
public struct CounterQuantity: Sendable, Equatable {
    /// The counters' values; 32-bit counters each wrap on their own, so they are kept apart.
    public var components: [UInt64]
    /// 32 or 64.
    public var width: Int

    public init(components: [UInt64], width: Int) {
        self.components = components
        self.width = width
    }

    /// The raw value: the sum of the counters.
    public var total: Double {
        components.reduce(0.0) { $0 + Double($1) }
    }
}

/// Why a rate was not computed for a sample.
public enum RateDiscontinuity: String, Error, Sendable, CaseIterable {
    /// The first sample of the series (or the first after an agent restart).
    case firstSample = "first_sample"
    /// sysUpTime went back: the agent restarted and its counters with it.
    case agentRestart = "agent_restart"
    /// ifCounterDiscontinuityTime changed: the counters were cleared.
    case countersCleared = "counters_cleared"
    /// A 64-bit counter went back, or a 32-bit one went back where a wrap cannot be told
    /// from a reset (the interface speed is unknown or too high for one wrap per interval).
    case counterReset = "counter_reset"
    /// The rate is above what the interface's speed allows.
    case implausible
    /// The counters changed kind (64-bit ↔ 32-bit) or the ifIndex now has another name.
    case sourceChanged = "source_changed"
    /// No time passed between the samples.
    case noInterval = "no_interval"
}

/// Per-second rates of interface counters, with the discontinuity rules a poller needs
/// so that graphs never show spikes: a 32-bit counter that went back is taken as one wrap
/// only when the interface speed makes one wrap per interval the only explanation;
/// everything else that is not a plain increase gives no rate for that sample.
public enum InterfaceRates {
    /// The increase from `previous` to `current`, or why there is none. `bound` is the most
    /// the counter can plausibly have grown (from the interface speed), nil when unknown.
    public static func increase(from previous: UInt64, to current: UInt64, width: Int, bound: Double?) -> Result<UInt64, RateDiscontinuity> {
        var delta: UInt64
        if current >= previous {
            delta = current - previous
        } else if width == 32, let bound, bound < 4_294_967_296 {
            delta = (current &+ (1 << 32)) &- previous
        } else {
            return .failure(.counterReset)
        }
        if width == 32 { delta &= 0xFFFF_FFFF }
        if let bound, Double(delta) > bound { return .failure(.implausible) }
        return .success(delta)
    }

    /// The rate of a quantity between two samples `seconds` apart.
    public static func rate(from previous: CounterQuantity, to current: CounterQuantity, seconds: Double,
                            bound perSecond: Double?) -> Result<Double, RateDiscontinuity> {
        guard seconds > 0 else { return .failure(.noInterval) }
        guard previous.width == current.width, previous.components.count == current.components.count else {
            return .failure(.sourceChanged)
        }
        let bound = perSecond.map { $0 * seconds }
        var total: UInt64 = 0
        for i in current.components.indices {
            switch increase(from: previous.components[i], to: current.components[i], width: current.width, bound: bound) {
            case .success(let delta): total &+= delta
            case .failure(let why): return .failure(why)
            }
        }
        if let bound, Double(total) > bound { return .failure(.implausible) }
        return .success(Double(total) / seconds)
    }

    /// Whether sysUpTime going from `previous` to `current` ticks (hundredths of a second)
    /// over `seconds` of wall time means the agent restarted. TimeTicks wrap after 497 days:
    /// a value just past the wrap where the elapsed time predicts it is not a restart.
    public static func agentRestarted(previous: UInt32, current: UInt32, seconds: Double) -> Bool {
        guard current < previous else { return false }
        let expected = Double(previous) + seconds * 100
        guard expected >= 4_294_967_296 else { return true }
        let afterWrap = expected - 4_294_967_296
        return abs(Double(current) - afterWrap) > max(500, seconds * 10)
    }
}
