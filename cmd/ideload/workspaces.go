package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
)

// workspacesReport is the workspaces phase's part of the summary.
type workspacesReport struct {
	Requested int   `json:"requested"`
	Users     int   `json:"users"`
	Created   int   `json:"created"`
	Suspended int   `json:"suspended"`
	Resumed   int   `json:"resumed"`
	Create    stats `json:"create"`
	Suspend   stats `json:"suspend"`
	Resume    stats `json:"resume"`
	// ProcessesBefore and ProcessesIdle are the server's process tree
	// before the first workspace was created and while all were
	// suspended (with --pid): an idle workspace should cost none.
	ProcessesBefore *int `json:"processes_before,omitempty"`
	ProcessesIdle   *int `json:"processes_idle,omitempty"`
	Errors          int  `json:"errors"`
}

// workspacesPhase creates --workspaces workspaces, suspends them all,
// samples the idle server, and resumes them all.
func (l *loader) workspacesPhase(ctx context.Context) *workspacesReport {
	r := &workspacesReport{Requested: l.cfg.Workspaces, Users: len(l.users)}
	l.mu.Lock()
	if before, ok := l.resources["start"]; ok {
		r.ProcessesBefore = &before.Processes
	}
	l.mu.Unlock()
	var create, suspend, resume latencies
	l.logf("creating %d workspaces", l.cfg.Workspaces)
	made := l.createWorkspaces(ctx, phaseWorkspaces, len(l.pool), l.cfg.Workspaces, &create)
	r.Created = len(made)

	l.logf("suspending %d workspaces", len(made))
	r.Suspended = l.setState(ctx, made, "suspend", "suspended", &suspend)
	if idle, ok := l.sample("idle"); ok {
		r.ProcessesIdle = &idle.Processes
	}
	l.logf("resuming %d workspaces", len(made))
	r.Resumed = l.setState(ctx, made, "resume", "active", &resume)
	l.sample(phaseWorkspaces)

	r.Create, r.Suspend, r.Resume = create.stats(), suspend.stats(), resume.stats()
	r.Errors = l.fail.of(phaseWorkspaces)
	return r
}

// setState posts action (suspend or resume) to each workspace, wants
// state in the answer, and returns how many succeeded.
func (l *loader) setState(ctx context.Context, wss []workspaceRef, action, state string, lat *latencies) int {
	var ok atomic.Int64
	forEach(len(wss), l.cfg.Concurrency, func(i int) {
		ws := wss[i]
		var got struct {
			State string `json:"state"`
		}
		err := lat.time(func() error {
			return l.api.call(ctx, "POST", "/api/v1/workspaces/"+ws.ID+"/"+action, ws.User.Token, nil, http.StatusOK, &got)
		})
		if err == nil && got.State != state {
			err = fmt.Errorf("state %q, want %q", got.State, state)
		}
		if err != nil {
			l.fail.add(phaseWorkspaces, action+" workspace", err)
			return
		}
		ok.Add(1)
	})
	return int(ok.Load())
}
