package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"switchboard/modules/identity"
	"switchboard/modules/notify"
	"switchboard/modules/slas"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
)

// letterhead is how a client's report PDFs present themselves: its brand
// (the name its people see, as on its portal), its logo's bytes, its time
// zone and locale.
func (e *env) letterhead(ctx context.Context, t tenancy.Tenant) (slas.Letterhead, error) {
	b, err := e.clientBrand(ctx, t)
	if err != nil {
		return slas.Letterhead{}, err
	}
	loc, locale, err := e.portalSettings(ctx, t)
	if err != nil {
		return slas.Letterhead{}, err
	}
	lh := slas.Letterhead{Name: b.DisplayName, Primary: b.PrimaryColor, Accent: b.AccentColor, Zone: loc, Locale: humane.LocaleFor(locale)}
	if file, ok := strings.CutPrefix(b.LogoURL, "/brand/"); ok {
		a, err := e.branding.Asset(ctx, t, file)
		if err != nil {
			return slas.Letterhead{}, fmt.Errorf("reading the client's logo: %w", err)
		}
		lh.Logo, lh.LogoType = a.Bytes, a.ContentType
	}
	return lh, nil
}

// slaMailDeps wires the monthly report e-mails: the client directory, each
// client's clock and admins, and the SMTP relay in the client's name.
func (e *env) slaMailDeps() slas.MailDeps {
	return slas.MailDeps{
		Tenants: e.tenants,
		Clients: e.tenants.IDsCreatedBefore,
		Zone: func(ctx context.Context, t tenancy.Tenant) (*time.Location, error) {
			loc, _, err := e.portalSettings(ctx, t)
			return loc, err
		},
		Admins: func(ctx context.Context, t tenancy.Tenant) ([]string, error) {
			users, err := e.identity.ListClientUsers(ctx, t)
			var to []string
			for _, u := range users {
				if u.Role == identity.RoleClientAdmin && u.DisabledAt == nil {
					to = append(to, u.Email)
				}
			}
			return to, err
		},
		Send: func(ctx context.Context, t tenancy.Tenant, m slas.Mail) (string, error) {
			detail, err := e.notify.SendEmail(ctx, t, notify.Email{To: m.To, Subject: m.Subject, Body: m.Body,
				Attachments: []notify.Attachment{{Name: m.FileName, ContentType: "application/pdf", Data: m.PDF}}})
			if errors.Is(err, notify.ErrUndeliverable) {
				return "", fmt.Errorf("%w: %w", slas.ErrUndeliverable, err)
			}
			return detail, err
		},
		Jobs:   e.jobs,
		Logger: e.log,
	}
}
