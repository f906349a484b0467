// Package dotenv reads and writes env files in the one dotenv dialect
// phpbuild knows: phpbuild release reads an environment's env files with
// it, and the launcher reads the file at PHPBUILD_ENV_FILE with it.
package dotenv
