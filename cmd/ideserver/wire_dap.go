package main

import "github.com/ideserver/ideserver/server"

// wireDAP builds the dap feature into opts.
func wireDAP(d deps, opts *server.Options) (feature, error) {
	return feature{}, nil
}
