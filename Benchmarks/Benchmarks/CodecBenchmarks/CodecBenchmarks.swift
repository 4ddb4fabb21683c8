import Benchmark
import Foundation
import TriadCore

private struct Sample: Codable {
    var id: Int
    var name: String
    var values: [Double]
}

/// The same fields through their own wire functions: the bytes are the same as `Sample`'s.
private struct WireSample: WireCodable {
    var id: Int
    var name: String
    var values: [Double]

    init(id: Int, name: String, values: [Double]) {
        self.id = id
        self.name = name
        self.values = values
    }

    func encode(to writer: inout WireWriter) throws(WireError) {
        writer.write(id)
        try writer.write(name)
        try writer.write(values)
    }

    init(from reader: inout WireReader) throws(WireError) {
        id = try reader.read(Int.self)
        name = try reader.read(String.self)
        values = try reader.read([Double].self)
    }
}

let benchmarks: @Sendable () -> Void = {
    let doubles = (0..<1_000_000).map { Double($0) * 0.5 }
    let structs = (0..<10_000).map { Sample(id: $0, name: "sample \($0)", values: [1, 2, 3]) }
    let wireStructs = structs.map { WireSample(id: $0.id, name: $0.name, values: $0.values) }

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
    Benchmark("Wire encode+decode 10k WireCodable structs", configuration: .init(metrics: [.wallClock])) { benchmark in
        for _ in benchmark.scaledIterations {
            let bytes = try WireEncoder().encode(wireStructs)
            blackHole(try WireDecoder().decode([WireSample].self, from: bytes))
        }
    }
    Benchmark("JSON encode+decode 10k structs", configuration: .init(metrics: [.wallClock], maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            let bytes = try JSONEncoder().encode(structs)
            blackHole(try JSONDecoder().decode([Sample].self, from: bytes))
        }
    }
}
