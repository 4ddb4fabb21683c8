import Benchmark
import Foundation
import TriadCore

private struct Sample: Codable {
    var id: Int
    var name: String
    var values: [Double]
}

let benchmarks: @Sendable () -> Void = {
    let doubles = (0..<1_000_000).map { Double($0) * 0.5 }
    let structs = (0..<10_000).map { Sample(id: $0, name: "sample \($0)", values: [1, 2, 3]) }

    Benchmark("Wire encode+decode 1M Doubles", configuration: .init(metrics: [.wallClock, .throughput])) { benchmark in
        for _ in benchmark.scaledIterations {
            let bytes = try WireEncoder().encode(doubles)
            blackHole(try WireDecoder().decode([Double].self, from: bytes))
        }
    }
    Benchmark("JSON encode+decode 1M Doubles", configuration: .init(metrics: [.wallClock], maxIterations: 5)) { benchmark in
        for _ in benchmark.scaledIterations {
            let bytes = try JSONEncoder().encode(doubles)
            blackHole(try JSONDecoder().decode([Double].self, from: bytes))
        }
    }
    Benchmark("Wire encode+decode 10k structs", configuration: .init(metrics: [.wallClock])) { benchmark in
        for _ in benchmark.scaledIterations {
            let bytes = try WireEncoder().encode(structs)
            blackHole(try WireDecoder().decode([Sample].self, from: bytes))
        }
    }
    Benchmark("JSON encode+decode 10k structs", configuration: .init(metrics: [.wallClock], maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            let bytes = try JSONEncoder().encode(structs)
            blackHole(try JSONDecoder().decode([Sample].self, from: bytes))
        }
    }
}
