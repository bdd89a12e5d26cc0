package workspace

import "testing"

func TestMergeEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		old, next string
		want      string
	}{
		{"created then changed", EventCreated, EventChanged, EventCreated},
		{"created then created", EventCreated, EventCreated, EventCreated},
		{"created then deleted", EventCreated, EventDeleted, ""},
		{"changed then changed", EventChanged, EventChanged, EventChanged},
		{"changed then created", EventChanged, EventCreated, EventChanged},
		{"changed then deleted", EventChanged, EventDeleted, EventDeleted},
		{"deleted then created", EventDeleted, EventCreated, EventChanged},
		{"deleted then changed", EventDeleted, EventChanged, EventChanged},
		{"deleted then deleted", EventDeleted, EventDeleted, EventDeleted},
	}
	for _, tc := range tests {
		if got := mergeEvents(tc.old, tc.next); got != tc.want {
			t.Errorf("%s: mergeEvents(%s, %s) = %q, want %q", tc.name, tc.old, tc.next, got, tc.want)
		}
	}
}
