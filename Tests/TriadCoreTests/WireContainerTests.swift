import Testing
import TriadCore

// Each struct's keyed container is reused across the structs of one encoding (see `WireContainerCache`): these
// tests drive the shapes where reuse could go wrong.

private struct Leaf: Codable, Hashable, Sendable {
    var value: Int
    var label: String?
}

private struct Branch: Codable, Hashable, Sendable {
    var left: Leaf
    var right: Leaf?
    var children: [Branch]
}

/// Asks for its container twice and writes through both, which a synthesized conformance never does.
private struct TwoContainers: Codable, Hashable, Sendable {
    var first: Int
    var second: Double

    private enum CodingKeys: String, CodingKey { case first, second }

    init(first: Int, second: Double) {
        self.first = first
        self.second = second
    }

    init(from decoder: any Decoder) throws {
        let one = try decoder.container(keyedBy: CodingKeys.self)
        first = try one.decode(Int.self, forKey: .first)
        let two = try decoder.container(keyedBy: CodingKeys.self)
        second = try two.decode(Double.self, forKey: .second)
    }

    func encode(to encoder: any Encoder) throws {
        var one = encoder.container(keyedBy: CodingKeys.self)
        try one.encode(first, forKey: .first)
        var two = encoder.container(keyedBy: CodingKeys.self)
        try two.encode(second, forKey: .second)
    }
}

/// Twenty structs of distinct key types in one value: more than the containers kept per encoding.
private struct K0: Codable, Hashable, Sendable { var v = 0 }
private struct K1: Codable, Hashable, Sendable { var v = 1 }
private struct K2: Codable, Hashable, Sendable { var v = 2 }
private struct K3: Codable, Hashable, Sendable { var v = 3 }
private struct K4: Codable, Hashable, Sendable { var v = 4 }
private struct K5: Codable, Hashable, Sendable { var v = 5 }
private struct K6: Codable, Hashable, Sendable { var v = 6 }
private struct K7: Codable, Hashable, Sendable { var v = 7 }
private struct K8: Codable, Hashable, Sendable { var v = 8 }
private struct K9: Codable, Hashable, Sendable { var v = 9 }
private struct Wide: Codable, Hashable, Sendable {
    var a = K0(), b = K1(), c = K2(), d = K3(), e = K4(), f = K5(), g = K6(), h = K7(), i = K8(), j = K9()
    var k = Leaf(value: 10, label: "ten"), l = [Leaf(value: 11, label: nil)], m = TwoContainers(first: 12, second: 13)
    var n: [String: Leaf] = ["x": Leaf(value: 14, label: nil)]
}
private struct Wider: Codable, Hashable, Sendable {
    var first = Wide()
    var second: [Wide] = [Wide(), Wide()]
    var branch = Branch(left: Leaf(value: 1, label: nil), right: nil, children: [])
}

/// The boxes behind the keyed containers that `Watched` values were handed, seen through weak references: the
/// standard library keeps a container's box in its one stored property, which reflection reaches.
private final class BoxWatch: @unchecked Sendable {
    struct Weak { weak var box: AnyObject? }
    var boxes: [Weak] = []
    /// The boxes' identities, taken while each was in use.
    var identities: Set<ObjectIdentifier> = []
    var alive: Int { boxes.count { $0.box != nil } }

    func watch(_ container: Any) {
        guard let box = Mirror(reflecting: container).children.first?.value else { return }
        boxes.append(Weak(box: box as AnyObject))
        identities.insert(ObjectIdentifier(box as AnyObject))
    }
}

/// A struct that records the box of each container it gets, encoding and decoding.
private struct Watched: Codable, Hashable, Sendable {
    nonisolated(unsafe) static var watch = BoxWatch()
    var value: Int
    var children: [Watched]

    private enum CodingKeys: String, CodingKey { case value, children }

    init(value: Int, children: [Watched]) {
        self.value = value
        self.children = children
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        Self.watch.watch(container)
        value = try container.decode(Int.self, forKey: .value)
        children = try container.decode([Watched].self, forKey: .children)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        Self.watch.watch(container)
        try container.encode(value, forKey: .value)
        try container.encode(children, forKey: .children)
    }
}

@Suite("Wire codec's keyed containers")
struct WireContainerTests {
    @Test("nested and recursive structs of alternating key types round-trip")
    func nested() throws {
        let tree = Branch(
            left: Leaf(value: 1, label: "a"),
            right: Leaf(value: 2, label: nil),
            children: (0..<50).map { index in
                Branch(
                    left: Leaf(value: index, label: index.isMultiple(of: 3) ? "\(index)" : nil),
                    right: index.isMultiple(of: 2) ? Leaf(value: -index, label: "r") : nil,
                    children: [Branch(left: Leaf(value: index * 10, label: nil), right: nil, children: [])]
                )
            }
        )
        let bytes = try WireEncoder().encode(tree)
        #expect(try WireDecoder().decode(Branch.self, from: bytes) == tree)
    }

    @Test("a conformance that asks for its container twice reads and writes in order")
    func twoContainers() throws {
        let values = (0..<100).map { TwoContainers(first: $0, second: Double($0) / 4) }
        let bytes = try WireEncoder().encode(values)
        #expect(try WireDecoder().decode([TwoContainers].self, from: bytes) == values)
        // The same bytes as the fields written one after the other.
        let fields = try WireEncoder().encode(7) + WireEncoder().encode(0.5)
        #expect(try WireEncoder().encode(TwoContainers(first: 7, second: 0.5)) == fields)
    }

    @Test("a kept container is handed out again and again, and freed with its encoding or decoding")
    func keptContainersAreFreed() throws {
        Watched.watch = BoxWatch()
        let tree = Watched(
            value: 0,
            children: (1...200).map { Watched(value: $0, children: [Watched(value: -$0, children: [])]) }
        )
        var bytes: [UInt8] = []
        // In a scope of its own, so that nothing the test holds keeps a container alive.
        do { bytes = try WireEncoder().encode(tree) }
        #expect(Watched.watch.boxes.count == 401)
        // One box served all 401 structs, nested ones too, and went with the encoding: a box retained once too
        // often would stay, and one retained once too few would have crashed by now.
        #expect(Watched.watch.identities.count == 1)
        #expect(Watched.watch.alive == 0)
        Watched.watch = BoxWatch()
        var decoded: Watched?
        do { decoded = try WireDecoder().decode(Watched.self, from: bytes) }
        #expect(decoded == tree)
        #expect(Watched.watch.boxes.count == 401)
        #expect(Watched.watch.identities.count == 1)
        #expect(Watched.watch.alive == 0)
    }

    @Test("more key types than the containers kept still encode and decode")
    func manyKeyTypes() throws {
        let value = Wider()
        let bytes = try WireEncoder().encode(value)
        #expect(try WireDecoder().decode(Wider.self, from: bytes) == value)
    }

    @Test("encodings one after another, and a failed decoding between them, do not share containers")
    func separateEncodings() throws {
        let first = try WireEncoder().encode([Leaf(value: 1, label: "one")])
        let truncated = Array(first.dropLast())
        #expect(throws: WireError.self) { try WireDecoder().decode([Leaf].self, from: truncated) }
        let second = try WireEncoder().encode([Leaf(value: 1, label: "one")])
        #expect(first == second)
        #expect(try WireDecoder().decode([Leaf].self, from: second) == [Leaf(value: 1, label: "one")])
    }
}
