#ifndef C_TRIAD_WIRE_H
#define C_TRIAD_WIRE_H

// The wire codec's one C helper, portable C for clang's Swift calling convention (no system calls, no platform code).
//
// TriadCore declares these functions itself, with their Swift signatures (`cachedEncodingContainer(_:)` and
// `cachedDecodingContainer(_:)` in WireContainerCache.swift), and calls them by name; nothing imports this header.
// Each returns, where Swift code returns an indirect result, a keyed container rebuilt from its box: see
// keyed_container.c.

#endif
