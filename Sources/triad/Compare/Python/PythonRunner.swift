import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One Python interpreter that runs the lab's script (``LabScript``) and hands back its JSON.
///
/// Each call starts the interpreter afresh, so that one measurement's memory and threads never leak into the next;
/// the interpreter's own start-up is outside the figures, which the script takes itself.
struct PythonRunner: Sendable {
    /// The interpreter, as given or as found on `PATH`.
    let executable: String
    /// The lab's script, written out by ``LabScript/write(into:)``.
    let script: String
    /// Where the interpreter's output goes while it runs.
    let scratch: String

    /// What went wrong with a Python, as a sentence that names it.
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The interpreter's answers to `info`.
    struct Info: Decodable {
        var version: String
        var implementation: String
        var executable: String
        var freeThreaded: Bool
        var gilEnabled: Bool
        var aiohttp: Bool
    }

    /// One measurement, as the script prints it.
    struct Measurement: Decodable {
        var jobs: Int
        var wallSeconds: Double
        var cpuSeconds: Double
        var peakRSSBytes: Int
        var busySeconds: Double
        var checksum: Int
    }

    /// What one workload sample asks of the script.
    struct Spec: Encodable {
        var workload: String
        var model: String
        var workers: Int
        var params: [String: Double]
    }

    /// Asks the interpreter what it is.
    func info() async throws -> Info {
        try await call(["info"], as: Info.self, site: true)
    }

    /// Runs one sample of a workload under a model.
    func measure(_ spec: Spec) async throws -> Measurement {
        let encoded = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        return try await call(["run", encoded], as: Measurement.self)
    }

    /// Runs one of the experiments behind claims 5 to 7; its figures are numbers or booleans.
    func experiment(_ name: String) async throws -> [String: Double] {
        let raw = try await call(["experiment", name], as: [String: FigureValue].self)
        return raw.mapValues(\.number)
    }

    /// Runs the script with `arguments` and decodes the one JSON object it must print.
    ///
    /// Only `info` loads `site` (to see whether aiohttp is installed); the measurements run with `-S`, because the
    /// `.pth` files of a site folder can cost a call 70 ms and the lab needs nothing outside the standard library.
    private func call<T: Decodable>(_ arguments: [String], as type: T.Type, site: Bool = false) async throws -> T {
        let stdout = "\(scratch)/python.out"
        let stderr = "\(scratch)/python.err"
        let exit: ChildProcess.Exit
        do {
            exit = try await ChildProcess.run(
                executable, (site ? [] : ["-S"]) + [script] + arguments, stdout: stdout, stderr: stderr
            )
        } catch let failure as ChildProcess.Failure {
            throw Failure(message: failure.message)
        }
        let output = (try? Data(contentsOf: URL(fileURLWithPath: stdout))) ?? Data()
        guard exit == .status(0) else {
            let errors = (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
            let tail = errors.split(separator: "\n").suffix(3).joined(separator: " | ")
            throw Failure(
                message: "\(executable) \(exit) running the lab's '\(arguments[0])'" + (tail.isEmpty ? "" : ": \(tail)")
            )
        }
        do {
            return try JSONDecoder().decode(T.self, from: output)
        } catch {
            let shown = String(decoding: output.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            throw Failure(
                message: "\(executable) printed something other than the lab's JSON for '\(arguments[0])': "
                    + (shown.isEmpty ? "nothing" : "'\(shown)'")
            )
        }
    }

    /// Finds `python3` on `PATH`, as a shell would.
    static func onPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let folders = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return folders.map { "\($0)/python3" }.first { access($0, X_OK) == 0 }
    }
}

/// A figure from an experiment: a number, or a boolean taken as 1 or 0.
private struct FigureValue: Decodable {
    var number: Double

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            number = flag ? 1 : 0
        } else {
            number = try container.decode(Double.self)
        }
    }
}
