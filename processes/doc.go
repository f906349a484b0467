// Package processes owns what an image runs besides web: the process types
// (queue consumers and other long-running commands) and the scheduled jobs,
// read from project.toml's [processes] and [schedule] tables and the app's
// Procfile, checked, and given their defaults. The image carries the result
// as JSON, in a label for releases and in a file for the launcher.
package processes
