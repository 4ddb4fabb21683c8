@_exported import TriadCore

/// Derives a `WireCodable` conformance from a struct's stored properties or an enum's cases, so that a
/// job type gets the codec's fast path with one line.
///
/// ```swift
/// import Triad
/// import TriadWireMacros
///
/// @WireCodable
/// struct Score: Job {
///     var player: Int
///     var points: Double
///
///     func run() async throws -> Double { points * 2 }
/// }
/// ```
///
/// The macro writes, in an extension, the two functions that would otherwise be written by hand: `encode(to:)`
/// writes each stored property in declaration order, and `init(from:)` reads them back in the same order. Because
/// they live in an extension, the type keeps its memberwise initializer. The code it writes calls the same
/// primitives of `WireWriter` and `WireReader` that a hand-written conformance calls,
/// picked by the compiler from each property's type, so it runs exactly as fast:
///
/// - Numbers, `Bool` and `String` are written directly, and so are optionals of them, with a presence byte.
/// - A property whose type is itself `WireCodable` (hand-written or derived by this macro), or an array
///   or an optional of one, calls that type's own functions, with no container and no cast.
/// - Any other `Codable` property (arrays of numbers, dictionaries, dates, a type with only `Codable`) goes through
///   the codec's general path, exactly as `WireWriter.write(_:)` takes it.
///
/// Structs, generic ones included, and enums are supported. A struct's wire form is its stored properties in
/// declaration order: the same bytes as the synthesized `Codable` conformance gives in Triad's format. Each stored
/// property needs a type annotation; computed and `static` properties are skipped, and so is a `let` with an
/// initial value, a constant that `init(from:)` could not assign.
/// An enum's wire form is the index of its case in declaration order (one byte when the enum has up to 256 cases,
/// else four), then the case's associated values in order; an unknown index decodes to
/// `WireError.Code.invalidValue`. A type with no stored state, such as a job with no parameters,
/// encodes to no bytes at all, which is not an error.
///
/// The type must still be `Codable` (a `Job` is), since the conformance the macro adds refines it;
/// JSON and files keep using the `Codable` form.
///
/// The macro reports a compile error, with what to do instead, when it is attached to a class, an actor, a
/// protocol or an extension, to a type with members under `#if`, to an enum without cases, or to a struct with a
/// `lazy` property, a property wrapper, a property declared by a tuple pattern such as `var (x, y) = (0, 0)`, or a
/// stored property without a type annotation.
@attached(
    extension,
    conformances: WireCodable,
    names: named(encode(to:)), named(init(from:))
)
public macro WireCodable() = #externalMacro(module: "TriadWireMacrosPlugin", type: "WireCodableMacro")
