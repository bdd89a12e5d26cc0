package main

import "github.com/ideserver/ideserver/server"

// wirePlayground builds the playground feature into opts.
func wirePlayground(d deps, opts *server.Options) (feature, error) {
	return feature{}, nil
}
