import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacroExpansion
import SwiftSyntaxMacros
import SwiftSyntaxMacrosGenericTestSupport
import Testing
import TriadWireMacrosExpansion

/// What `@WireCodable` writes for each kind of declaration, and the errors it reports for what it cannot derive.
@Suite struct ExpansionTests {
    let macros: [String: MacroSpec] = [
        "WireCodable": MacroSpec(type: WireCodableMacro.self, conformances: ["WireCodable"])
    ]

    func expect(
        _ source: String,
        expands expanded: String,
        diagnostics: [DiagnosticSpec] = [],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        assertMacroExpansion(
            source, expandedSource: expanded, diagnostics: diagnostics, macroSpecs: macros,
            failureHandler: { Issue.record(Comment(rawValue: $0.message), sourceLocation: sourceLocation) }
        )
    }

    @Test func theReadmeJob() {
        expect(
            """
            @WireCodable
            struct Score: Job {
                var points: Double
                func run() async throws -> Double { points * 2 }
            }
            """,
            expands: """
                struct Score: Job {
                    var points: Double
                    func run() async throws -> Double { points * 2 }
                }

                extension Score: TriadCore.WireCodable {
                    func encode(to writer: inout TriadCore.WireWriter) throws(TriadCore.WireError) {
                        try writer._writeField(self.points)
                    }

                    init(from reader: inout TriadCore.WireReader) throws(TriadCore.WireError) {
                        self.points = try reader._readField((Double).self)
                    }
                }
                """
        )
    }

    @Test func everyKindOfStoredProperty() {
        expect(
            """
            @WireCodable
            public struct Mixed: Codable {
                public var id: Int
                var name: String?
                let point: Point
                var points: [Point]
                var table: [String: Int]
                var a, b: UInt8
                var later: Double! = nil
                var observed: Int = 0 { didSet { print(observed) } }
                let version = 1
                let fixed: Int = 2
                var doubled: Int { id * 2 }
                var settable: Int { get { id } set { id = newValue } }
                static var shared: Int = 0
            }
            """,
            expands: """
                public struct Mixed: Codable {
                    public var id: Int
                    var name: String?
                    let point: Point
                    var points: [Point]
                    var table: [String: Int]
                    var a, b: UInt8
                    var later: Double! = nil
                    var observed: Int = 0 { didSet { print(observed) } }
                    let version = 1
                    let fixed: Int = 2
                    var doubled: Int { id * 2 }
                    var settable: Int { get { id } set { id = newValue } }
                    static var shared: Int = 0
                }

                extension Mixed: TriadCore.WireCodable {
                    public func encode(to writer: inout TriadCore.WireWriter) throws(TriadCore.WireError) {
                        try writer._writeField(self.id)
                        try writer._writeField(self.name)
                        try writer._writeField(self.point)
                        try writer._writeField(self.points)
                        try writer._writeField(self.table)
                        try writer._writeField(self.a)
                        try writer._writeField(self.b)
                        try writer._writeField(self.later)
                        try writer._writeField(self.observed)
                    }

                    public init(from reader: inout TriadCore.WireReader) throws(TriadCore.WireError) {
                        self.id = try reader._readField((Int).self)
                        self.name = try reader._readField((String?).self)
                        self.point = try reader._readField((Point).self)
                        self.points = try reader._readField(([Point]).self)
                        self.table = try reader._readField(([String: Int]).self)
                        self.a = try reader._readField((UInt8).self)
                        self.b = try reader._readField((UInt8).self)
                        self.later = try reader._readField((Double?).self)
                        self.observed = try reader._readField((Int).self)
                    }
                }
                """
        )
    }

    @Test func aGenericStruct() {
        expect(
            """
            @WireCodable
            package struct Pair<First: Codable, Second: Codable>: Codable {
                var first: First
                var second: Second
            }
            """,
            expands: """
                package struct Pair<First: Codable, Second: Codable>: Codable {
                    var first: First
                    var second: Second
                }

                extension Pair: TriadCore.WireCodable {
                    package func encode(to writer: inout TriadCore.WireWriter) throws(TriadCore.WireError) {
                        try writer._writeField(self.first)
                        try writer._writeField(self.second)
                    }

                    package init(from reader: inout TriadCore.WireReader) throws(TriadCore.WireError) {
                        self.first = try reader._readField((First).self)
                        self.second = try reader._readField((Second).self)
                    }
                }
                """
        )
    }

    @Test func aStructWithoutStateEncodesToNoBytes() {
        expect(
            """
            @WireCodable
            struct Ping: Job {
                func run() async throws -> Int { 1 }
            }
            """,
            expands: """
                struct Ping: Job {
                    func run() async throws -> Int { 1 }
                }

                extension Ping: TriadCore.WireCodable {
                    func encode(to writer: inout TriadCore.WireWriter) throws(TriadCore.WireError) {

                    }

                    init(from reader: inout TriadCore.WireReader) throws(TriadCore.WireError) {

                    }
                }
                """
        )
    }

    @Test func anEnumWithAssociatedValues() {
        expect(
            """
            @WireCodable
            enum Shape: Codable {
                case circle(radius: Double)
                case rectangle(Double, Double)
                case labelled(_ name: String, at: Point?)
                case empty, unknown
            }
            """,
            expands: """
                enum Shape: Codable {
                    case circle(radius: Double)
                    case rectangle(Double, Double)
                    case labelled(_ name: String, at: Point?)
                    case empty, unknown
                }

                extension Shape: TriadCore.WireCodable {
                    func encode(to writer: inout TriadCore.WireWriter) throws(TriadCore.WireError) {
                        switch self {
                        case let .circle(_0):
                            writer.write(0 as UInt8)
                            try writer._writeField(_0)
                        case let .rectangle(_0, _1):
                            writer.write(1 as UInt8)
                            try writer._writeField(_0)
                            try writer._writeField(_1)
                        case let .labelled(_0, _1):
                            writer.write(2 as UInt8)
                            try writer._writeField(_0)
                            try writer._writeField(_1)
                        case .empty:
                            writer.write(3 as UInt8)
                        case .unknown:
                            writer.write(4 as UInt8)
                        }
                    }

                    init(from reader: inout TriadCore.WireReader) throws(TriadCore.WireError) {
                        switch try reader.read(UInt8.self) {
                        case 0:
                            self = try .circle(radius: reader._readField((Double).self))
                        case 1:
                            self = try .rectangle(reader._readField((Double).self), reader._readField((Double).self))
                        case 2:
                            self = try .labelled(reader._readField((String).self), at: reader._readField((Point?).self))
                        case 3:
                            self = .empty
                        case 4:
                            self = .unknown
                        case let tag:
                            throw TriadCore.WireError(.invalidValue, \
                "\\(tag) is not the index of a case of \\(Self.self)")
                        }
                    }
                }
                """
        )
    }

    @Test func aTypeThatAlreadyDeclaresTheConformanceGetsTheMembersAlone() {
        assertMacroExpansion(
            """
            @WireCodable
            struct Score: WireCodable {
                var points: Double
            }
            """,
            expandedSource: """
                struct Score: WireCodable {
                    var points: Double
                }

                extension Score {
                    func encode(to writer: inout TriadCore.WireWriter) throws(TriadCore.WireError) {
                        try writer._writeField(self.points)
                    }

                    init(from reader: inout TriadCore.WireReader) throws(TriadCore.WireError) {
                        self.points = try reader._readField((Double).self)
                    }
                }
                """,
            macroSpecs: ["WireCodable": MacroSpec(type: WireCodableMacro.self, conformances: [])],
            failureHandler: { Issue.record(Comment(rawValue: $0.message)) }
        )
    }

    // MARK: Diagnostics

    @Test func aClassIsAnError() {
        expect(
            """
            @WireCodable
            final class Score: Codable {
                var points = 0.0
            }
            """,
            expands: """
                final class Score: Codable {
                    var points = 0.0
                }
                """,
            diagnostics: [
                DiagnosticSpec(
                    message: "@WireCodable applies to a struct or an enum, not to a class; for a class, conform to "
                        + "WireCodable and write encode(to:) and init(from:) by hand, or use Codable alone",
                    line: 1, column: 1
                )
            ]
        )
    }

    @Test func anActorIsAnError() {
        expect(
            "@WireCodable actor Counter {}",
            expands: "actor Counter {}",
            diagnostics: [
                DiagnosticSpec(
                    message: "@WireCodable applies to a struct or an enum, not to an actor; for a class, conform to "
                        + "WireCodable and write encode(to:) and init(from:) by hand, or use Codable alone",
                    line: 1, column: 1
                )
            ]
        )
    }

    @Test func anEnumWithoutCasesIsAnError() {
        expect(
            """
            @WireCodable
            enum Never2: Codable {
                static let x = 1
            }
            """,
            expands: """
                enum Never2: Codable {
                    static let x = 1
                }
                """,
            diagnostics: [
                DiagnosticSpec(
                    message: "@WireCodable cannot derive a wire form for 'Never2', which has no cases and so no "
                        + "values; remove the attribute",
                    line: 2, column: 6
                )
            ]
        )
    }

    @Test func aPropertyWithoutATypeIsAnError() {
        expect(
            """
            @WireCodable
            struct Score: Codable {
                var points = 0.0
            }
            """,
            expands: """
                struct Score: Codable {
                    var points = 0.0
                }
                """,
            diagnostics: [
                DiagnosticSpec(
                    message: "@WireCodable needs the type of the stored property 'points'; write it out, such as "
                        + "'var points: Int = 0'",
                    line: 3, column: 9
                )
            ]
        )
    }

    @Test func lazyWrappedAndTuplePropertiesAreErrors() {
        expect(
            """
            @WireCodable
            struct Odd: Codable {
                lazy var cache: Int = 0
                @Clamped var level: Int
                var (x, y): (Int, Int)
            }
            """,
            expands: """
                struct Odd: Codable {
                    lazy var cache: Int = 0
                    @Clamped var level: Int
                    var (x, y): (Int, Int)
                }
                """,
            diagnostics: [
                DiagnosticSpec(
                    message: "@WireCodable cannot encode the lazy property 'cache'; make it a plain stored property, "
                        + "or a computed one if it need not be sent",
                    line: 3, column: 5
                ),
                DiagnosticSpec(
                    message: "@WireCodable cannot encode 'level', which has a property wrapper; store the wrapped "
                        + "value in a plain property, or conform to WireCodable by hand",
                    line: 4, column: 5
                ),
                DiagnosticSpec(
                    message: "@WireCodable cannot encode a property declared by a tuple pattern; declare each "
                        + "property on its own, such as 'var x: Int' and 'var y: Int'",
                    line: 5, column: 9
                ),
            ]
        )
    }

    @Test func membersUnderIfAreAnError() {
        expect(
            """
            @WireCodable
            struct Settings: Codable {
                var level: Int
                #if DEBUG
                var trace: Bool
                #endif
            }
            """,
            expands: """
                struct Settings: Codable {
                    var level: Int
                    #if DEBUG
                    var trace: Bool
                    #endif
                }
                """,
            diagnostics: [
                DiagnosticSpec(
                    message: "@WireCodable cannot derive a wire form from members declared under #if; move the "
                        + "stored properties or cases out of the #if, or conform to WireCodable by hand",
                    line: 4, column: 5
                )
            ]
        )
    }
}
