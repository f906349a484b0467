// Package classindex owns an app's class index: for every file composer
// would scan for its classmap (the root composer.json's autoload paths), the
// classes, interfaces, traits and enums it declares. Its Digest keys the
// autoload layer, so only a change that could change the classmap reruns
// composer dump-autoload.
package classindex
