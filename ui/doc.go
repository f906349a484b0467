// Package ui is phpbuild's deploy page: one web app, served by
// `phpbuild ui`, that shows every environment of a project.toml (what runs,
// its health, its lock) and each one's release log. It reads through the
// release package, the engine the CLI uses, and holds no state of its own.
package ui
