import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// `@WireCodable`: writes a struct's or an enum's `WireCodable` conformance in an extension.
///
/// A struct's form is its stored properties in declaration order; an enum's is its case index (one byte up to 256
/// cases, else four), then the case's associated values. Each field is written by `WireWriter._writeField(_:)` and
/// read by `WireReader._readField(_:)`, whose overloads let the compiler pick the primitive for the field's type.
public enum WireCodableMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax,
        attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        guard declaration.is(StructDeclSyntax.self) || declaration.is(EnumDeclSyntax.self) else {
            throw DiagnosticsError(diagnostics: [
                Diagnostic(node: node, message: WireCodableDiagnostic.notStructOrEnum(kind: kind(of: declaration)))
            ])
        }
        // Members under `#if` would be coded in some builds and not in others; the macro sees every branch alike.
        if let conditional = declaration.memberBlock.members.first(where: { $0.decl.is(IfConfigDeclSyntax.self) }) {
            throw DiagnosticsError(diagnostics: [
                Diagnostic(node: conditional.decl, message: WireCodableDiagnostic.conditionalMembers)
            ])
        }
        let members: (encode: String, decode: String)
        if let structDecl = declaration.as(StructDeclSyntax.self) {
            members = try structMembers(structDecl)
        } else if let enumDecl = declaration.as(EnumDeclSyntax.self) {
            members = try enumMembers(enumDecl)
        } else {
            return []
        }
        let access = accessModifier(of: declaration)
        let conformance = protocols.isEmpty ? "" : ": TriadCore.WireCodable"
        let source: DeclSyntax = """
            extension \(type.trimmed)\(raw: conformance) {
                \(raw: access)func encode(to writer: inout TriadCore.WireWriter) throws(TriadCore.WireError) {
            \(raw: members.encode)
                }

                \(raw: access)init(from reader: inout TriadCore.WireReader) throws(TriadCore.WireError) {
            \(raw: members.decode)
                }
            }
            """
        guard let extensionDecl = source.as(ExtensionDeclSyntax.self) else { return [] }
        return [extensionDecl]
    }

    /// `public ` or `package ` when the type is, so that the members satisfy the conformance at the type's level.
    private static func accessModifier(of declaration: some DeclGroupSyntax) -> String {
        for modifier in declaration.modifiers {
            switch modifier.name.tokenKind {
            case .keyword(.public), .keyword(.open): return "public "
            case .keyword(.package): return "package "
            default: continue
            }
        }
        return ""
    }

    private static func kind(of declaration: some DeclGroupSyntax) -> String {
        if declaration.is(ClassDeclSyntax.self) { return "a class" }
        if declaration.is(ActorDeclSyntax.self) { return "an actor" }
        if declaration.is(ProtocolDeclSyntax.self) { return "a protocol" }
        if declaration.is(ExtensionDeclSyntax.self) { return "an extension" }
        return "this declaration"
    }

    // MARK: Structs

    private static func structMembers(_ decl: StructDeclSyntax) throws -> (encode: String, decode: String) {
        var diagnostics: [Diagnostic] = []
        var fields: [(name: String, type: String)] = []
        for member in decl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self) else { continue }
            let typeLevel: [TokenKind] = [.keyword(.static), .keyword(.class)]
            if variable.modifiers.contains(where: { typeLevel.contains($0.name.tokenKind) }) { continue }
            let isLet = variable.bindingSpecifier.tokenKind == .keyword(.let)
            let isLazy = variable.modifiers.contains { $0.name.tokenKind == .keyword(.lazy) }
            let wrapper = variable.attributes.compactMap { $0.as(AttributeSyntax.self) }.first {
                !["available", "usableFromInline", "preconcurrency"].contains($0.attributeName.trimmedDescription)
            }
            // A later binding of `var a, b: Int` takes its type from the last one.
            var pendingNames: [String] = []
            for binding in variable.bindings {
                if let accessors = binding.accessorBlock, isComputed(accessors) { continue }
                guard let identifier = binding.pattern.as(IdentifierPatternSyntax.self) else {
                    diagnostics.append(Diagnostic(node: binding.pattern, message: WireCodableDiagnostic.tuplePattern))
                    continue
                }
                let name = identifier.identifier.trimmedDescription
                if isLazy {
                    diagnostics.append(Diagnostic(node: variable, message: WireCodableDiagnostic.lazy(name)))
                    continue
                }
                if let wrapper {
                    diagnostics.append(Diagnostic(node: wrapper, message: WireCodableDiagnostic.wrapper(name)))
                    continue
                }
                // A constant with a value cannot be assigned in `init(from:)`, and its value is in the code.
                if isLet, binding.initializer != nil { continue }
                guard let annotation = binding.typeAnnotation?.type else {
                    if binding.initializer == nil {
                        pendingNames.append(name)
                    } else {
                        let message = WireCodableDiagnostic.noType(name)
                        diagnostics.append(Diagnostic(node: binding.pattern, message: message))
                    }
                    continue
                }
                let type = typeExpression(annotation)
                for pending in pendingNames { fields.append((pending, type)) }
                pendingNames = []
                fields.append((name, type))
            }
            for pending in pendingNames {
                diagnostics.append(Diagnostic(node: variable, message: WireCodableDiagnostic.noType(pending)))
            }
        }
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics: diagnostics) }
        let encode = fields.map { "        try writer._writeField(self.\($0.name))" }
        let decode = fields.map { "        self.\($0.name) = try reader._readField((\($0.type)).self)" }
        return (encode.joined(separator: "\n"), decode.joined(separator: "\n"))
    }

    /// Whether a binding's accessors make it computed: a getter, or a bare body. Observers leave it stored.
    private static func isComputed(_ block: AccessorBlockSyntax) -> Bool {
        switch block.accessors {
        case .getter: return true
        case .accessors(let accessors):
            return accessors.contains {
                [.keyword(.get), .keyword(.set), .keyword(._read), .keyword(._modify), .keyword(.unsafeAddress)]
                    .contains($0.accessorSpecifier.tokenKind)
            }
        }
    }

    /// The type as it can be written before `.self`: `Int!` reads as `Int?`, which is how it is stored.
    private static func typeExpression(_ type: TypeSyntax) -> String {
        if let implicit = type.as(ImplicitlyUnwrappedOptionalTypeSyntax.self) {
            return "\(implicit.wrappedType.trimmedDescription)?"
        }
        return type.trimmedDescription
    }

    // MARK: Enums

    private static func enumMembers(_ decl: EnumDeclSyntax) throws -> (encode: String, decode: String) {
        let cases = decl.memberBlock.members
            .compactMap { $0.decl.as(EnumCaseDeclSyntax.self) }
            .flatMap { $0.elements }
        guard !cases.isEmpty else {
            throw DiagnosticsError(diagnostics: [
                Diagnostic(node: decl.name, message: WireCodableDiagnostic.noCases(decl.name.text))
            ])
        }
        let tagType = cases.count <= 256 ? "UInt8" : "UInt32"
        var encode = ["        switch self {"]
        var decode = ["        switch try reader.read(\(tagType).self) {"]
        for (index, element) in cases.enumerated() {
            let name = element.name.trimmedDescription
            let parameters = element.parameterClause?.parameters.map { $0 } ?? []
            if parameters.isEmpty {
                encode.append("        case .\(name):")
                encode.append("            writer.write(\(index) as \(tagType))")
                decode.append("        case \(index):")
                decode.append("            self = .\(name)")
                continue
            }
            let bindings = parameters.indices.map { "_\($0)" }
            encode.append("        case let .\(name)(\(bindings.joined(separator: ", "))):")
            encode.append("            writer.write(\(index) as \(tagType))")
            for binding in bindings { encode.append("            try writer._writeField(\(binding))") }
            let arguments = parameters.map { parameter -> String in
                let read = "reader._readField((\(typeExpression(parameter.type))).self)"
                if let label = parameter.firstName, label.tokenKind != .wildcard {
                    return "\(label.trimmedDescription): \(read)"
                }
                return read
            }
            decode.append("        case \(index):")
            decode.append("            self = try .\(name)(\(arguments.joined(separator: ", ")))")
        }
        encode.append("        }")
        decode.append("        case let tag:")
        let message = #"\(tag) is not the index of a case of \(Self.self)"#
        decode.append("            throw TriadCore.WireError(.invalidValue, \"\(message)\")")
        decode.append("        }")
        return (encode.joined(separator: "\n"), decode.joined(separator: "\n"))
    }
}

/// What `@WireCodable` cannot derive, each with what to do instead.
enum WireCodableDiagnostic: DiagnosticMessage {
    case notStructOrEnum(kind: String)
    case noCases(String)
    case tuplePattern
    case lazy(String)
    case wrapper(String)
    case noType(String)
    case conditionalMembers

    var message: String {
        switch self {
        case .notStructOrEnum(let kind):
            "@WireCodable applies to a struct or an enum, not to \(kind); for a class, conform to WireCodable and "
                + "write encode(to:) and init(from:) by hand, or use Codable alone"
        case .noCases(let name):
            "@WireCodable cannot derive a wire form for '\(name)', which has no cases and so no values; "
                + "remove the attribute"
        case .tuplePattern:
            "@WireCodable cannot encode a property declared by a tuple pattern; declare each property on its own, "
                + "such as 'var x: Int' and 'var y: Int'"
        case .lazy(let name):
            "@WireCodable cannot encode the lazy property '\(name)'; make it a plain stored property, or a computed "
                + "one if it need not be sent"
        case .wrapper(let name):
            "@WireCodable cannot encode '\(name)', which has a property wrapper; store the wrapped value in a plain "
                + "property, or conform to WireCodable by hand"
        case .conditionalMembers:
            "@WireCodable cannot derive a wire form from members declared under #if; move the stored properties "
                + "or cases out of the #if, or conform to WireCodable by hand"
        case .noType(let name):
            "@WireCodable needs the type of the stored property '\(name)'; write it out, such as "
                + "'var \(name): Int = 0'"
        }
    }

    var diagnosticID: MessageID {
        let id: String
        switch self {
        case .notStructOrEnum: id = "notStructOrEnum"
        case .noCases: id = "noCases"
        case .tuplePattern: id = "tuplePattern"
        case .lazy: id = "lazy"
        case .wrapper: id = "wrapper"
        case .noType: id = "noType"
        case .conditionalMembers: id = "conditionalMembers"
        }
        return MessageID(domain: "TriadWireMacros", id: id)
    }

    var severity: DiagnosticSeverity { .error }
}
