// Package phpsrc owns reading PHP source without running it: a lexer that
// matches PHP 8's tokenizer, declarations (namespaces, imports, classes,
// functions, their scopes) and a tolerant expression parser. It never
// fails on input PHP would reject; callers decide what a bad file means.
package phpsrc
