import TriadCore
import TriadWireMacros

// Types with a derived wire form, for the macro's tests and its worker program, which both register the jobs so
// that their names agree on both sides. Each derived type has a twin whose conformance is written by hand or is
// plain `Codable`, so the tests can compare their bytes.

/// A point with a derived wire form, nested in the other types.
@WireCodable
public struct MacroPoint: Codable, Sendable, Hashable {
    public var x: Int32
    public var y: Int32
    public init(x: Int32, y: Int32) {
        self.x = x
        self.y = y
    }
}

/// The README's job, with a derived wire form.
@WireCodable
public struct MacroScore: Job, Hashable {
    public var points: Double
    public init(points: Double) { self.points = points }
    public func run() async throws -> Double { points * 2 }
}

/// ``MacroScore`` with the README's hand-written conformance.
public struct HandScore: Job, Hashable {
    public var points: Double
    public init(points: Double) { self.points = points }
    public func run() async throws -> Double { points * 2 }
}

extension HandScore: WireCodable {
    public func encode(to writer: inout WireWriter) { writer.write(points) }
    public init(from reader: inout WireReader) throws(WireError) { points = try reader.read(Double.self) }
}

/// A plain `Codable` struct, as a member of the others.
public struct PlainLabel: Codable, Sendable, Hashable {
    public var text: String
    public var weight: Int
    public init(text: String, weight: Int) {
        self.text = text
        self.weight = weight
    }
}

/// An `Int` under another name, which the macro cannot tell from its spelling.
public typealias Count = Int

/// Every kind of property the macro handles.
@WireCodable
public struct MacroMixed: Codable, Sendable, Hashable {
    public var int: Int
    public var small: Int8
    public var unsigned: UInt16
    public var float: Float
    public var double: Double
    public var flag: Bool
    public var name: String
    public var maybeInt: Int?
    public var maybeName: String?
    public var point: MacroPoint
    public var maybePoint: MacroPoint?
    public var points: [MacroPoint]
    public var numbers: [Int]
    public var table: [String: Int]
    public var hand: HandScore
    public var hands: [HandScore]
    public var label: PlainLabel
    public var count: Count
    public var a, b: UInt8
    public var observed: Int = 0 { didSet {} }
    public var doubled: Int { int * 2 }
    public static let shared = 0

    public init(seed: Int) {
        int = seed
        small = Int8(truncatingIfNeeded: seed)
        unsigned = UInt16(truncatingIfNeeded: seed)
        float = Float(seed) / 3
        double = Double(seed) / 7
        flag = seed.isMultiple(of: 2)
        name = "item \(seed) — ünïcode"
        maybeInt = seed.isMultiple(of: 3) ? nil : seed
        maybeName = seed.isMultiple(of: 2) ? "even" : nil
        point = MacroPoint(x: Int32(seed), y: -1)
        maybePoint = seed.isMultiple(of: 2) ? nil : MacroPoint(x: 1, y: 2)
        points = (0..<(seed % 4)).map { MacroPoint(x: Int32($0), y: Int32(seed)) }
        numbers = Array(0..<(seed % 5))
        table = seed.isMultiple(of: 2) ? [:] : ["one": 1]
        hand = HandScore(points: Double(seed) * 1.5)
        hands = (0..<(seed % 3)).map { HandScore(points: Double($0)) }
        label = PlainLabel(text: "label", weight: seed)
        count = seed + 1
        a = 7
        b = 9
        observed = seed * 3
    }
}

/// ``MacroMixed``'s fields as plain `Codable`, whose bytes the derived form must match.
public struct CodableMixed: Codable, Sendable, Hashable {
    public var int: Int
    public var small: Int8
    public var unsigned: UInt16
    public var float: Float
    public var double: Double
    public var flag: Bool
    public var name: String
    public var maybeInt: Int?
    public var maybeName: String?
    public var point: MacroPoint
    public var maybePoint: MacroPoint?
    public var points: [MacroPoint]
    public var numbers: [Int]
    public var table: [String: Int]
    public var hand: HandScore
    public var hands: [HandScore]
    public var label: PlainLabel
    public var count: Count
    public var a, b: UInt8
    public var observed: Int

    public init(_ mixed: MacroMixed) {
        int = mixed.int
        small = mixed.small
        unsigned = mixed.unsigned
        float = mixed.float
        double = mixed.double
        flag = mixed.flag
        name = mixed.name
        maybeInt = mixed.maybeInt
        maybeName = mixed.maybeName
        point = mixed.point
        maybePoint = mixed.maybePoint
        points = mixed.points
        numbers = mixed.numbers
        table = mixed.table
        hand = mixed.hand
        hands = mixed.hands
        label = mixed.label
        count = mixed.count
        a = mixed.a
        b = mixed.b
        observed = mixed.observed
    }
}

/// A generic struct with a derived wire form: its generic fields take the codec's general path.
@WireCodable
public struct MacroPair<First: Codable & Sendable & Hashable, Second: Codable & Sendable & Hashable>: Codable,
    Sendable, Hashable
{
    public var first: First
    public var second: Second
    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }
}

/// An enum with a derived wire form: a case index, then the case's associated values.
@WireCodable
public enum MacroShape: Codable, Sendable, Hashable {
    case circle(radius: Double)
    case rectangle(Double, Double)
    case labelled(_ name: String, at: MacroPoint?, tags: [String])
    case empty, unknown
}

/// Doubles its value in a worker; its input and its output both have derived wire forms.
@WireCodable
public struct MacroDouble: Job, Hashable {
    public var point: MacroPoint
    public var shape: MacroShape
    public init(point: MacroPoint, shape: MacroShape) {
        self.point = point
        self.shape = shape
    }
    public func run() async throws -> MacroPair<MacroPoint, MacroShape> {
        MacroPair(MacroPoint(x: point.x * 2, y: point.y * 2), shape)
    }
}

/// The jobs that the test runner and the worker program both register.
public enum MacroTestJobs {
    public static let all: [any Job.Type] = [MacroScore.self, HandScore.self, MacroDouble.self]
}
