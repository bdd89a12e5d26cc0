package dap_test

import (
	"encoding/json"
	"strconv"
	"testing"
)

func num(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func firstFrameID(t *testing.T, st msg) int {
	t.Helper()
	var frames []struct {
		ID int `json:"id"`
	}
	if err := json.Unmarshal([]byte(st.str("body", "stackFrames")), &frames); err != nil || len(frames) == 0 {
		t.Fatalf("stack frames: %v %v", st, err)
	}
	return frames[0].ID
}

func scopeRef(t *testing.T, sc msg) int {
	t.Helper()
	var scopes []struct {
		Name string `json:"name"`
		Ref  int    `json:"variablesReference"`
	}
	if err := json.Unmarshal([]byte(sc.str("body", "scopes")), &scopes); err != nil || len(scopes) == 0 {
		t.Fatalf("scopes: %v %v", sc, err)
	}
	return scopes[0].Ref
}
