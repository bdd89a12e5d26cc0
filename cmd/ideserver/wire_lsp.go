package main

import "github.com/ideserver/ideserver/server"

// wireLSP builds the lsp feature into opts.
func wireLSP(d deps, opts *server.Options) (feature, error) {
	return feature{}, nil
}
