import Foundation
import Testing
import TriadFuzzTargets

/// The corpus directory of `target` in the repository.
private func corpus(_ target: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus/\(target)").path
}

@Suite("Fuzz corpus")
struct FuzzCorpusTests {
    @Test("every input in the repository's corpus runs through its target without a failed check", arguments: [
        "frames", "wire", "ring",
    ])
    func replay(target: String) throws {
        let count = try FuzzCorpus.replay(target, paths: [corpus(target)])
        // The corpus holds at least the seeds, and every seed is in it.
        #expect(count >= FuzzTargets.seeds(for: target).count)
    }

    @Test("the seeds are valid inputs that the targets accept whole", arguments: ["frames", "wire", "ring"])
    func seeds(target: String) {
        for seed in FuzzTargets.seeds(for: target) { FuzzTargets.run(target, seed) }
        #expect(!FuzzTargets.seeds(for: target).isEmpty)
    }
}
