package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

type readyResponse struct {
	Status  string            `json:"status"`
	Reasons map[string]string `json:"reasons,omitempty"`
}

// handleReadyz answers 200 when the store and every ReadyCheck pass, else
// 503 with each failing check's reason.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	reasons := map[string]string{}
	if _, err := s.opts.Store.SchemaVersion(); err != nil {
		reasons["store"] = "the database is not readable"
		s.log(r).Warn("readiness: store", "err", err)
	}
	for _, c := range s.opts.ReadyChecks {
		if err := c.Check(); err != nil {
			reasons[c.Name] = err.Error()
		}
	}
	if len(reasons) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, readyResponse{"unavailable", reasons})
		return nil
	}
	writeJSON(w, http.StatusOK, readyResponse{Status: "ready"})
	return nil
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

// handlePprof serves the runtime profiles to administrators.
func (s *Server) handlePprof(w http.ResponseWriter, r *http.Request) error {
	switch name := r.PathValue("name"); name {
	case "":
		pprof.Index(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
	return nil
}
