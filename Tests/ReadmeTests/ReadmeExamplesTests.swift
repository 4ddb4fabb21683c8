import Foundation
import Testing

/// The package's root, found from this file's place in it.
private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Every Swift block of the README, with the file its marker names (nil for a block without a marker).
private func swiftBlocks() throws -> [(path: String?, code: String)] {
    let lines = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var blocks: [(path: String?, code: String)] = []
    var index = 0
    while index < lines.count {
        guard lines[index] == "```swift" else {
            index += 1
            continue
        }
        // The marker is the last non-blank line before the block.
        var before = index - 1
        while before >= 0 && lines[before].trimmingCharacters(in: .whitespaces).isEmpty { before -= 1 }
        var path: String?
        if before >= 0, lines[before].hasPrefix("<!-- example: "), lines[before].hasSuffix(" -->") {
            path = String(lines[before].dropFirst("<!-- example: ".count).dropLast(" -->".count))
        }
        var end = index + 1
        while end < lines.count && lines[end] != "```" { end += 1 }
        blocks.append((path, lines[(index + 1)..<end].joined(separator: "\n")))
        index = end + 1
    }
    return blocks
}

@Suite("The README's examples")
struct ReadmeExamplesTests {
    @Test("every Swift block of the README is a whole example program of the package, shown as it is")
    func examplesAreThePackagesPrograms() throws {
        let blocks = try swiftBlocks()
        #expect(blocks.count >= 5)
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        for block in blocks {
            let path = try #require(block.path, "a Swift block of the README has no `<!-- example: … -->` marker:\n\(block.code)")
            let file = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
            #expect(
                file.trimmingCharacters(in: .newlines) == block.code.trimmingCharacters(in: .newlines),
                "the README's block for \(path) differs from the file: copy the file into the README"
            )
            // Built with the package, so a block that no longer compiles fails the build.
            let folder = path.split(separator: "/").dropLast().joined(separator: "/")
            #expect(manifest.contains("path: \"\(folder)\""), "\(folder) is not a target of Package.swift")
        }
    }
}
