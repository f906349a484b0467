// Package project owns project.toml: the buildpacks project descriptor fields
// phpbuild applies ([_], [io.buildpacks]) and phpbuild's own tables (php,
// phalcon, volt, build, environments), parsed strictly so that a typo is an
// error naming the key and line instead of a silently ignored setting.
package project
