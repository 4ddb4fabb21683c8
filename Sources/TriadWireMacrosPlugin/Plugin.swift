import SwiftCompilerPlugin
import SwiftSyntaxMacros

/// The compiler plugin that carries Triad's macros.
@main
struct TriadWireMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [WireCodableMacro.self]
}
