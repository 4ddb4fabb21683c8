import Foundation

/// The corpus on disk: replaying it, and seeding it.
public enum FuzzCorpus {
    /// Runs every input under `paths` (files, or directories of files) through `target`; returns how many ran.
    public static func replay(_ target: String, paths: [String]) throws -> Int {
        var count = 0
        for path in paths {
            for file in try files(at: path) {
                FuzzTargets.run(target, Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                count += 1
            }
        }
        return count
    }

    /// Writes `target`'s seeds into `directory`, named by their position; returns how many.
    public static func writeSeeds(for target: String, to directory: String) throws -> Int {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let seeds = FuzzTargets.seeds(for: target)
        for (index, seed) in seeds.enumerated() {
            try Data(seed).write(to: URL(fileURLWithPath: directory).appendingPathComponent("seed-\(index)"))
        }
        return seeds.count
    }

    /// The files at `path`: itself, or the files in it, sorted.
    public static func files(at path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        return try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            .map { (path as NSString).appendingPathComponent($0) }
    }
}
