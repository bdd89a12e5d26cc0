package jsonfold_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/jsonfold"
)

func TestCollides(t *testing.T) {
	hasColon := func(k string) bool { return strings.Contains(k, ":") }
	cases := []struct {
		name string
		doc  string
		skip func(string) bool
		want bool
	}{
		{"distinct keys", `{"command":"a","arguments":{}}`, nil, false},
		{"ascii case", `{"command":"threads","Command":"attach"}`, nil, true},
		{"long s", `{"arguments":{},"argumentſ":{}}`, nil, true},
		{"kelvin sign", `{"kind":1,"\u212aind":2}`, nil, true},
		{"nested in array", `{"a":[{"x":1,"X":2}]}`, nil, true},
		{"skipped keys", `{"file:///A":1,"file:///a":2}`, hasColon, false},
		{"not skipped", `{"file:///A":1,"file:///a":2}`, nil, true},
		{"scalar", `"x"`, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.doc), &v); err != nil {
				t.Fatal(err)
			}
			if got := jsonfold.Collides(v, tc.skip); got != tc.want {
				t.Errorf("Collides(%s) = %v, want %v", tc.doc, got, tc.want)
			}
		})
	}
}
