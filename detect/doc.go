// Package detect owns what an app is: its composer files, web root, Phalcon
// use, Volt views, node assets, writable dirs, and the env files that must
// never ship in an image. It reads the app directory and changes nothing.
package detect
