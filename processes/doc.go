// Package processes is the format of what an image runs besides web: the
// process types (queue consumers and other long-running commands) and the
// scheduled jobs, every default applied, as the image carries them (JSON in
// a label for releases, in a file for the launcher), and the cron syntax of
// schedules. detect reads them from project.toml and the Procfile. It
// imports none of phpbuild's packages: the launcher links it, and the
// launcher's bytes are part of every runtime's key.
package processes
