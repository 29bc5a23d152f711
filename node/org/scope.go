package org

import (
	"context"

	"siteline/storage"
	"siteline/web"
)

// record is organisation data a caller names by id.
type record interface {
	storage.User | storage.Team | storage.LabelGroup | storage.Label | storage.Contact
}

// owner returns the organisation and the id of r.
func owner[T record](r T) (orgID, id string) {
	switch r := any(r).(type) {
	case storage.User:
		return r.OrgID, r.ID
	case storage.Team:
		return r.OrgID, r.ID
	case storage.LabelGroup:
		return r.OrgID, r.ID
	case storage.Label:
		return r.OrgID, r.ID
	case storage.Contact:
		return r.OrgID, r.ID
	}
	panic("unreachable: record is one of the types above")
}

// inOrg returns the record id that get finds when it belongs to the
// actor's organisation. One of another organisation is not found, as if
// it did not exist: its id tells nothing.
func inOrg[T record](ctx context.Context, a web.Actor, kind, id string, get func(context.Context, string) (T, error)) (T, error) {
	var zero T
	r, err := get(ctx, id)
	if err != nil {
		return zero, err
	}
	if org, _ := owner(r); org != a.OrgID {
		return zero, notFound(kind, id)
	}
	return r, nil
}

// listed makes a lookup by id from the list of one organisation's records,
// for records the store lists but does not fetch one by one.
func listed[T record](kind, orgID string, list func(context.Context, string) ([]T, error)) func(context.Context, string) (T, error) {
	return func(ctx context.Context, id string) (T, error) {
		var zero T
		all, err := list(ctx, orgID)
		if err != nil {
			return zero, err
		}
		for _, r := range all {
			if _, rid := owner(r); rid == id {
				return r, nil
			}
		}
		return zero, notFound(kind, id)
	}
}

func (s *Service) labelGroup(ctx context.Context, a web.Actor, id string) (storage.LabelGroup, error) {
	return inOrg(ctx, a, "label group", id, listed("label group", a.OrgID, s.d.Store.LabelGroups))
}

func (s *Service) label(ctx context.Context, a web.Actor, id string) (storage.Label, error) {
	return inOrg(ctx, a, "label", id, listed("label", a.OrgID, s.d.Store.Labels))
}
