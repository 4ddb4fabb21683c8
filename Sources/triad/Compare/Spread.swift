/// The median and the range of a row's samples: what the report shows for every measured figure.
struct Spread: Codable, Sendable, Equatable {
    var median: Double
    var min: Double
    var max: Double

    /// The spread of `samples`; an empty list gives zeros.
    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        guard let first = sorted.first, let last = sorted.last else {
            self.init(median: 0, min: 0, max: 0)
            return
        }
        let middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        self.init(median: median, min: first, max: last)
    }

    init(median: Double, min: Double, max: Double) {
        self.median = median
        self.min = min
        self.max = max
    }

    /// Whether the two ranges share any value: then the samples cannot tell the two rows apart.
    func overlaps(_ other: Spread) -> Bool { min <= other.max && other.min <= max }

    /// `baseline / self` for times: the speedup of this row over `baseline`, its range taken from the extremes.
    func speedup(over baseline: Spread) -> Spread {
        func ratio(_ a: Double, _ b: Double) -> Double { b > 0 ? a / b : 0 }
        return Spread(
            median: ratio(baseline.median, median), min: ratio(baseline.min, max), max: ratio(baseline.max, min)
        )
    }
}
