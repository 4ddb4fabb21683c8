import SwiftCompilerPlugin
import SwiftSyntax
import SwiftSyntaxMacros
import TriadWireMacrosExpansion

/// The compiler plugin that carries Triad's macros.
@main
struct TriadWireMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [WireCodableMacro.self]
}

/// `@WireCodable` as the compiler finds it, by this module's name; the work is done in TriadWireMacrosExpansion,
/// which the expansion tests import.
public enum WireCodableMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax,
        attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        try TriadWireMacrosExpansion.WireCodableMacro.expansion(
            of: node, attachedTo: declaration, providingExtensionsOf: type, conformingTo: protocols, in: context
        )
    }
}
