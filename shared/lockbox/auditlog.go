package lockbox

import "errors"

// The audit export moves each tenant's events from where the transitions
// append them (the store) to the archive. These are the values the store and
// the exporter (package audit) exchange.

// ExportHead is how far a tenant's archive reaches.
type ExportHead struct {
	Seq  uint64 // the last exported event's seq; 0 before any
	Hash string // that event's hash
	// LastID is the log position of the last exported event ("" when not
	// known: nothing exported yet, or a head restored from a checkpoint).
	LastID string
}

// ExportPlan is a batch of events chosen for export and not yet
// acknowledged: the log positions after From up to To, Count events.
type ExportPlan struct {
	From, To string
	Count    int
}

// LoggedEvent is an event waiting in a tenant's log, at log position ID.
type LoggedEvent struct {
	ID    string
	Event Event
}

// ErrExportFenced means an export lost its lock to another run before it
// could record its plan or acknowledge its batch.
var ErrExportFenced = errors.New("lost the export lock to another run")

// ErrExportMoved means the export head moved under an export: another run
// acknowledged the batch first.
var ErrExportMoved = errors.New("the export head moved")
