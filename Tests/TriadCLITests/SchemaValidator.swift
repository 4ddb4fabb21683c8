import Foundation

/// Checks a JSON value against the subset of JSON Schema (draft 2020-12) that `triad compare --schema` uses:
/// `type`, `enum`, `required`, `properties`, `additionalProperties` (false or a schema), `items`, `minItems`,
/// `minimum`, `maximum` and local `$ref`s. Anything else in the schema makes it fail, so that the schema cannot grow
/// past what the tests check.
struct SchemaValidator {
    let root: [String: Any]

    init(schema: Data) throws {
        guard let root = try JSONSerialization.jsonObject(with: schema) as? [String: Any] else {
            throw Problem(path: "$", message: "the schema is not an object")
        }
        self.root = root
    }

    struct Problem: Error, CustomStringConvertible {
        var path: String
        var message: String
        var description: String { "\(path): \(message)" }
    }

    private static let understood: Set<String> = [
        "$schema", "$id", "$defs", "$ref", "title", "description", "type", "enum", "required", "properties",
        "additionalProperties", "items", "minItems", "minimum", "maximum",
    ]

    /// Every problem of `value` against the schema; empty when it conforms.
    func problems(of value: Any) -> [Problem] {
        var found: [Problem] = []
        check(value, against: root, path: "$", into: &found)
        return found
    }

    private func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let reference = schema["$ref"] as? String, reference.hasPrefix("#/$defs/") else { return schema }
        let name = String(reference.dropFirst("#/$defs/".count))
        var merged = (root["$defs"] as? [String: Any])?[name] as? [String: Any] ?? [:]
        for (key, value) in schema where key != "$ref" { merged[key] = value }
        return merged
    }

    private func check(_ value: Any, against raw: [String: Any], path: String, into found: inout [Problem]) {
        let schema = resolve(raw)
        for key in schema.keys where !Self.understood.contains(key) {
            found.append(Problem(path: path, message: "the schema uses '\(key)', which this validator does not know"))
        }
        if let type = schema["type"] as? String, !Self.matches(value, type) {
            found.append(Problem(path: path, message: "expected \(type), found \(Self.describe(value))"))
            return
        }
        if let choices = schema["enum"] as? [Any], !choices.contains(where: { Self.equal($0, value) }) {
            found.append(Problem(path: path, message: "\(value) is none of \(choices)"))
        }
        if let number = value as? Double, !(value is Bool) {
            if let minimum = schema["minimum"] as? Double, number < minimum {
                found.append(Problem(path: path, message: "\(number) is below \(minimum)"))
            }
            if let maximum = schema["maximum"] as? Double, number > maximum {
                found.append(Problem(path: path, message: "\(number) is above \(maximum)"))
            }
        }
        if let object = value as? [String: Any] {
            for name in schema["required"] as? [String] ?? [] where object[name] == nil {
                found.append(Problem(path: path, message: "'\(name)' is missing"))
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (name, member) in object {
                if let property = properties[name] as? [String: Any] {
                    check(member, against: property, path: "\(path).\(name)", into: &found)
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    check(member, against: additional, path: "\(path).\(name)", into: &found)
                } else if let allowed = schema["additionalProperties"] as? Bool, !allowed {
                    found.append(Problem(path: path, message: "'\(name)' is not in the schema"))
                }
            }
        }
        if let array = value as? [Any] {
            if let minimum = schema["minItems"] as? Int, array.count < minimum {
                found.append(Problem(path: path, message: "\(array.count) items, fewer than \(minimum)"))
            }
            if let items = schema["items"] as? [String: Any] {
                for (index, item) in array.enumerated() {
                    check(item, against: items, path: "\(path)[\(index)]", into: &found)
                }
            }
        }
    }

    private static func matches(_ value: Any, _ type: String) -> Bool {
        // Foundation on Linux decodes true and false as its own boolean class of NSNumber, with type code "c".
        let isBool = (value as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
        switch type {
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "string": return value is String
        case "boolean": return isBool
        case "number": return !isBool && value is NSNumber
        case "integer":
            guard !isBool, let number = value as? NSNumber else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        case "null": return value is NSNull
        default: return false
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let a = a as? String, let b = b as? String { return a == b }
        if let a = a as? NSNumber, let b = b as? NSNumber { return a == b }
        return false
    }

    private static func describe(_ value: Any) -> String {
        switch value {
        case is String: "a string"
        case is [Any]: "an array"
        case is [String: Any]: "an object"
        case is NSNull: "null"
        default: "\(value)"
        }
    }
}
