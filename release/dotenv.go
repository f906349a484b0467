package release

import "github.com/phpbuild/phpbuild/internal/dotenv"

// Env files are read and written in the dotenv dialect the launcher
// reads too; package dotenv owns it.

// EnvVar is one KEY=value of an env file.
type EnvVar = dotenv.Var

// ReadEnvFile reads and parses an env file; see dotenv.ReadFile.
func ReadEnvFile(path string) ([]EnvVar, error) { return dotenv.ReadFile(path) }

// ParseEnv parses env file syntax; name is used in errors. See dotenv.Parse.
func ParseEnv(name string, data []byte) ([]EnvVar, error) { return dotenv.Parse(name, data) }

// FormatEnv writes vars as a snapshot every dotenv reader reads back the
// same; see dotenv.Format.
func FormatEnv(vars []EnvVar) []byte { return dotenv.Format(vars) }
