package org

import (
	"context"

	"siteline/storage"
	"siteline/web"
)

// HistorySettings returns the outcomes and report fields of the actor's
// organisation: the defaults when it never set its own.
func (s *Service) HistorySettings(ctx context.Context, a web.Actor) (storage.HistorySettings, error) {
	return s.d.Store.HistorySettings(ctx, a.OrgID)
}

// PutHistorySettings replaces the outcomes and report fields of the
// actor's organisation. Sessions and reports keep the values they were
// given: a key taken out of a list still shows on them, by its key.
func (s *Service) PutHistorySettings(ctx context.Context, a web.Actor, h storage.HistorySettings) (storage.HistorySettings, error) {
	h.OrgID = a.OrgID
	h.Normalize()
	if h.ReportFields == nil {
		h.ReportFields = []storage.ReportFieldDef{}
	}
	if err := h.Validate(); err != nil {
		return h, err
	}
	return h, s.commit(ctx, a, entry{"history_settings.update", a.OrgID, h},
		storage.Change{Op: storage.OpPutHistorySettings, HistorySettings: &h})
}
