// Package ui is phpbuild's deploy page: one web app, served by
// `phpbuild ui`, that shows every environment of a project.toml (what runs,
// its health, its lock) and each one's release log, and deploys, promotes,
// rolls back and unlocks through the release package, the engine the CLI
// uses. The only state it keeps is the progress of the runs it started.
package ui
