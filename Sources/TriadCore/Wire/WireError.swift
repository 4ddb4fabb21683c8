/// An error from Triad's wire format: the binary codec or the framing of messages between processes.
///
/// Bad bytes never crash or hang a reader: an oversized, truncated, corrupt or undecodable frame or value ends in
/// one of these.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an extensible, comparable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable identifier, such as `"truncated"`.
        public let rawValue: String
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The bytes ended in the middle of a value or a frame.
        public static let truncated = Code("truncated")
        /// A frame's length is above the reader's limit.
        public static let frameTooLarge = Code("frameTooLarge")
        /// A frame does not start with Triad's magic bytes, or has an unknown version: the stream is not Triad's
        /// or has been corrupted.
        public static let corruptFrame = Code("corruptFrame")
        /// A value's bytes are not a valid encoding of the expected type.
        public static let invalidValue = Code("invalidValue")
        /// The value's `Encodable` conformance threw, or it uses a feature the codec does not offer.
        public static let encodingFailed = Code("encodingFailed")
        /// The type's `Decodable` conformance threw.
        public static let decodingFailed = Code("decodingFailed")
        /// Bytes were left over after the value was decoded: the sender and the receiver disagree on the type.
        public static let trailingBytes = Code("trailingBytes")

        /// The identifier, such as `truncated`.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// What happened, and what to do about it.
    public var message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The code and the message.
    public var description: String { "\(code): \(message)" }
}
