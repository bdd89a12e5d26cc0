package terminal

// SetBeforeStart makes f run as each Create begins starting its process
// (before the environment is built), so a test can act while a start is
// under way. Set it before the first Create.
func SetBeforeStart(m *Manager, f func()) { m.beforeStart = f }

// Pid returns the host pid of the terminal's process (the shell or the
// command; under bubblewrap, bubblewrap itself). Code that
// must recognise the command, such as the debugger checking who connects
// to its socket, uses Owns. It is 0 while the terminal starts.
func (t *Terminal) Pid() int {
	if p := t.process(); p != nil {
		return p.Pid()
	}
	return 0
}
