import Glibc

/// Exits normally, running `atexit` hooks.
func exitForTest(_ code: Int32) -> Never { exit(code) }

/// Exits at once, skipping `atexit` hooks.
func _exitForTest(_ code: Int32) -> Never { _exit(code) }
