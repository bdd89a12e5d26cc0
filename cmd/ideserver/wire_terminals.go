package main

import "github.com/ideserver/ideserver/server"

// wireTerminals builds the terminals feature into opts.
func wireTerminals(d deps, opts *server.Options) (feature, error) {
	return feature{}, nil
}
