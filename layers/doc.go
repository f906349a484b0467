// Package layers owns the app image's layers: one type per layer, each with
// its key — a digest over exactly the inputs that decide the layer's content,
// so an unchanged key means the previous image's layer can be reused as is.
package layers
