package terminal

// SetBeforeStart makes f run as each Create begins starting its process
// (before the environment is built), so a test can act while a start is
// under way. Set it before the first Create.
func SetBeforeStart(m *Manager, f func()) { m.beforeStart = f }
